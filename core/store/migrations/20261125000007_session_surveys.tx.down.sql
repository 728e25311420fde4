DROP TABLE session_surveys;
