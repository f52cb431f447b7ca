"""The JSON API (/api/v1): the customer's and the door scanner's product for apps, kiosks
and partners, on the same services as the pages."""
