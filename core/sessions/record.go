package sessions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/session"
)

// FieldUpdate changes a session's fields after creation (a CRM plugin
// linking the session to a case); nil or absent leaves a value as it is.
type FieldUpdate struct {
	TrackingID *string
	CFields    map[int]string
}

// SetFields applies u to the session's Name, custom fields and tracking ID,
// with the same length rules as at creation, and records a
// session.fields_changed event.
func (s *Service) SetFields(ctx context.Context, id int64, u FieldUpdate) (Session, error) {
	errs := map[string]string{}
	for i, v := range u.CFields {
		switch {
		case i < 0 || i >= FieldCount:
			errs[fmt.Sprintf("cfields[%d]", i)] = fmt.Sprintf("no such field: the index is 0 to %d", FieldCount-1)
		case utf8.RuneCountInString(v) > MaxFieldLength:
			errs[fmt.Sprintf("cfields[%d]", i)] = fmt.Sprintf("must be at most %d characters", MaxFieldLength)
		}
	}
	if u.TrackingID != nil && utf8.RuneCountInString(*u.TrackingID) > 256 {
		errs["tracking_id"] = "must be at most 256 characters"
	}
	if len(errs) > 0 {
		return Session{}, fault.Fields(errs)
	}
	return s.mutate(ctx, id, func(_ context.Context, _ bun.IDB, r *row, _ *session.Session, _ time.Time) (change, error) {
		f := r.fields()
		changed := map[string]any{}
		for i, v := range u.CFields {
			if f.CField[i] != v {
				f.CField[i] = v
				changed[fmt.Sprintf("cfield%d", i)] = v
			}
		}
		if u.TrackingID != nil && *u.TrackingID != f.TrackingID {
			f.TrackingID = *u.TrackingID
			changed["tracking0"] = f.TrackingID
		}
		if len(changed) == 0 {
			return change{}, nil
		}
		r.setFields(f)
		return change{event: "session.fields_changed", payload: changed}, nil
	})
}

// Survey kinds.
const (
	SurveyTechnician = "technician"
	SurveyCustomer   = "customer"
)

// MaxSurveyAnswers is the ten questions of a survey (P2U-2 TSurvey0..9).
const MaxSurveyAnswers = 10

type surveyRow struct {
	bun.BaseModel `bun:"table:session_surveys"`

	SessionID  int64     `bun:"session_id,pk"`
	Kind       string    `bun:"kind,pk"`
	Answers    string    `bun:"answers,notnull"`
	RecordedAt time.Time `bun:"recorded_at,notnull"`
}

// RecordSurvey stores a session's survey answers of one kind, replacing
// earlier ones, and records a session.survey_recorded event.
func (s *Service) RecordSurvey(ctx context.Context, id int64, kind string, answers []string) error {
	if kind != SurveyTechnician && kind != SurveyCustomer {
		return fault.Field("kind", `must be "technician" or "customer"`)
	}
	if len(answers) > MaxSurveyAnswers {
		return fault.Field("answers", fmt.Sprintf("at most %d answers", MaxSurveyAnswers))
	}
	for i, a := range answers {
		if utf8.RuneCountInString(a) > 2000 {
			return fault.Field(fmt.Sprintf("answers[%d]", i), "must be at most 2000 characters")
		}
	}
	b, _ := json.Marshal(answers)
	now := s.now()
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var exists int
		if err := tx.NewSelect().Model((*row)(nil)).ColumnExpr("count(*)").Where("id = ?", id).Scan(ctx, &exists); err != nil {
			return fmt.Errorf("find session %d: %w", id, err)
		}
		if exists == 0 {
			return fault.NotFoundf("session", "No session with id %d.", id)
		}
		sr := surveyRow{SessionID: id, Kind: kind, Answers: string(b), RecordedAt: now}
		if _, err := tx.NewInsert().Model(&sr).On("CONFLICT (session_id, kind) DO UPDATE").
			Set("answers = EXCLUDED.answers").Set("recorded_at = EXCLUDED.recorded_at").Exec(ctx); err != nil {
			return fmt.Errorf("record %s survey of %d: %w", kind, id, err)
		}
		return s.event(ctx, tx, id, change{event: "session.survey_recorded", payload: map[string]any{"kind": kind}}, now)
	})
}

// Survey returns a session's answers of one kind; none recorded is an
// empty list.
func (s *Service) Survey(ctx context.Context, id int64, kind string) ([]string, error) {
	var sr surveyRow
	err := s.DB.NewSelect().Model(&sr).Where("session_id = ? AND kind = ?", id, kind).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s survey of %d: %w", kind, id, err)
	}
	var out []string
	if err := json.Unmarshal([]byte(sr.Answers), &out); err != nil {
		return nil, fmt.Errorf("decode %s survey of %d: %w", kind, id, err)
	}
	return out, nil
}

// HandlingGroup is the technician group whose group settings govern the
// session now (P2U-1 posts, P2U-3 chat storage): the group of the
// technician handling it, else the group of the technician who created it,
// else 0 (a channel session nobody has picked up yet).
func (s *Service) HandlingGroup(ctx context.Context, id int64) (int64, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	if v.TechnicianID != nil && *v.TechnicianID != 0 {
		c, err := s.Org.CredentialsByID(ctx, *v.TechnicianID)
		if err != nil {
			return 0, fmt.Errorf("technician of session %d: %w", id, err)
		}
		return c.TechGroupID, nil
	}
	if v.TechGroupID != nil {
		return *v.TechGroupID, nil
	}
	return 0, nil
}
