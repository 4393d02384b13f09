"""Notifiers and durable delivery.

``build.notification_delivery`` assembles the service (outbox, notifiers, dispatcher);
``base`` holds the Notifier contract; one module per receiver type.
"""
