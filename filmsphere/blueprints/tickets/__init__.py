"""Ticket QR codes and calendar files for a customer's bookings."""
