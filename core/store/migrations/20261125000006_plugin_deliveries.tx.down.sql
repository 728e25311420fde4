DROP TABLE plugin_delivery_attempts;
--bun:split
DROP TABLE plugin_deliveries;
