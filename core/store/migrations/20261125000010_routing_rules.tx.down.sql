DROP TABLE routing_audit;
DROP TABLE routing_pack_channels;
DROP TABLE routing_packs;
DROP TABLE routing_rules;
