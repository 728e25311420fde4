-- Survey answers per session (owned by core/sessions): the technician survey
-- feeds P2U-2 TSurvey0..9; plugins record them through the host API.
CREATE TABLE session_surveys (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    answers TEXT NOT NULL DEFAULT '[]',
    recorded_at {{.TS}} NOT NULL,
    PRIMARY KEY (session_id, kind)
);
