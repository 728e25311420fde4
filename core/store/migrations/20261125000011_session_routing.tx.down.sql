DROP TABLE session_routing;
