"""Twilio, shared by the SMS and voice channels: the REST client and its failure classes
(``api``), the recording HTTP client (``http``), and status callbacks (``status``)."""
