package sessions

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tetherhq/tether/core/fault"
)

// FieldCount is the Name field plus the five custom fields (SESS-7);
// field 0 is the Name field, as in the original's cfield0.
const FieldCount = 6

// MaxFieldLength bounds free-text custom fields (SESS-7).
const MaxFieldLength = 64

// FieldRule says how one field is asked for in private sessions, per group.
type FieldRule struct {
	Enabled  bool     `json:"enabled"`
	Required bool     `json:"required"`
	Type     string   `json:"type" validate:"oneof=text dropdown"`
	Options  []string `json:"options" validate:"max=50,dive,min=1,max=64"`
}

// PrivateFields is the "private_fields" settings section (SESS-7, per
// technician group): how the technician fills each field when creating a
// private session.
type PrivateFields struct {
	Fields [FieldCount]FieldRule `json:"fields"`
}

// DefaultPrivateFields asks for the Name only, optionally.
func DefaultPrivateFields() *PrivateFields {
	var p PrivateFields
	for i := range p.Fields {
		p.Fields[i] = FieldRule{Type: "text", Options: []string{}}
	}
	p.Fields[0].Enabled = true
	return &p
}

// Validate checks that drop-downs have options.
func (p *PrivateFields) Validate() error {
	errs := map[string]string{}
	for i, f := range p.Fields {
		if f.Type == "dropdown" && f.Enabled && len(f.Options) == 0 {
			errs[fmt.Sprintf("fields[%d].options", i)] = "a drop-down needs at least one option"
		}
		if f.Required && !f.Enabled {
			errs[fmt.Sprintf("fields[%d].required", i)] = "a disabled field cannot be required"
		}
	}
	if len(errs) > 0 {
		return fault.Fields(errs)
	}
	return nil
}

// FieldNames is the "custom_field_names" settings section: the org-wide
// labels of the Name field and the five custom fields (SESS-7, master only).
type FieldNames struct {
	Names [FieldCount]string `json:"names" validate:"dive,max=64"`
}

// DefaultFieldNames labels the fields as the original does.
func DefaultFieldNames() *FieldNames {
	return &FieldNames{Names: [FieldCount]string{"Name", "Custom field 1", "Custom field 2", "Custom field 3", "Custom field 4", "Custom field 5"}}
}

// Terms is the "terms" settings section (SESS-6, per channel or group).
type Terms struct {
	Enabled     bool   `json:"enabled"`
	Text        string `json:"text" validate:"max=20000"`
	ForceScroll bool   `json:"force_scroll"`
}

// DefaultTerms shows no terms.
func DefaultTerms() *Terms { return &Terms{} }

// Validate refuses enabled terms without text.
func (t *Terms) Validate() error {
	if t.Enabled && strings.TrimSpace(t.Text) == "" {
		return fault.Field("text", "is required when terms are enabled")
	}
	return nil
}

// Fields are the values of a session's Name field, custom fields and tracking ID.
type Fields struct {
	CField     [FieldCount]string `json:"cfields"`
	TrackingID string             `json:"tracking_id"`
}

// checkPrivate applies the group's rules to the values a technician typed.
func checkPrivate(f Fields, rules *PrivateFields) error {
	errs := map[string]string{}
	for i, v := range f.CField {
		name := fmt.Sprintf("cfields[%d]", i)
		rule := rules.Fields[i]
		v = strings.TrimSpace(v)
		switch {
		case !rule.Enabled && v != "":
			errs[name] = "is not enabled for your group"
		case rule.Required && v == "":
			errs[name] = "is required"
		case rule.Type == "dropdown" && v != "" && !slices.Contains(rule.Options, v):
			errs[name] = "must be one of: " + strings.Join(rule.Options, ", ")
		case len([]rune(v)) > MaxFieldLength:
			errs[name] = fmt.Sprintf("must be at most %d characters", MaxFieldLength)
		}
	}
	if len([]rune(f.TrackingID)) > 256 {
		errs["tracking_id"] = "must be at most 256 characters"
	}
	if len(errs) > 0 {
		return fault.Fields(errs)
	}
	return nil
}

// checkCustomer bounds what a customer types into a channel form.
func checkCustomer(f Fields) error {
	errs := map[string]string{}
	for i, v := range f.CField {
		if len([]rune(v)) > MaxFieldLength {
			errs[fmt.Sprintf("cfields[%d]", i)] = fmt.Sprintf("must be at most %d characters", MaxFieldLength)
		}
	}
	if len([]rune(f.TrackingID)) > 256 {
		errs["tracking_id"] = "must be at most 256 characters"
	}
	if len(errs) > 0 {
		return fault.Fields(errs)
	}
	return nil
}

func trimFields(f Fields) Fields {
	for i := range f.CField {
		f.CField[i] = strings.TrimSpace(f.CField[i])
	}
	f.TrackingID = strings.TrimSpace(f.TrackingID)
	return f
}

// Invitation is the "invitation_email" settings section (SESS-3, per
// technician group): the connection e-mail a technician sends with a PIN.
// {pin}, {name}, {technician} and {expires} are replaced when a session is
// created.
type Invitation struct {
	Subject   string `json:"subject" validate:"max=200"`
	Body      string `json:"body" validate:"max=5000"`
	Signature string `json:"signature" validate:"max=1000"`
}

// DefaultInvitation is the text groups start with.
func DefaultInvitation() *Invitation {
	return &Invitation{
		Subject:   "Your remote support session",
		Body:      "Hello {name},\n\nTo connect to your technician, open the support page and enter this code: {pin}\nThe code is valid until {expires}.",
		Signature: "{technician}",
	}
}

// Render fills the placeholders.
func (inv *Invitation) Render(pin, name, technician string, expires time.Time) RenderedInvitation {
	r := strings.NewReplacer("{pin}", pin, "{name}", name, "{technician}", technician, "{expires}", expires.UTC().Format("2006-01-02 15:04 UTC"))
	body := r.Replace(inv.Body)
	if sig := r.Replace(inv.Signature); sig != "" {
		body += "\n\n" + sig
	}
	return RenderedInvitation{Subject: r.Replace(inv.Subject), Body: body}
}

// RenderedInvitation is the e-mail text shown to the technician to send.
type RenderedInvitation struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}
