"""The cinema door: signed ticket codes, their QR images, check-in, the door ticket."""
