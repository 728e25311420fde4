package posturl

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/sdk"
)

// TimeLayout is how times appear in XML and form posts (always UTC). JSON
// posts use RFC 3339 in UTC.
const TimeLayout = "2006-01-02 15:04:05"

// ChatTimeLayout is the time prefix of each chat log line ("[15:04:05] ").
const ChatTimeLayout = "15:04:05"

// XMLRoot is the root element of XML posts.
const XMLRoot = "session"

// value is one field's value: text, a number or a time; unknown values are
// empty in XML and form posts and null in JSON.
type value struct {
	known bool
	text  string
	num   int64
	time  time.Time
	kind  byte // 's', 'n', 't'
}

func str(s string) value { return value{known: true, text: s, kind: 's'} }
func num(n int64) value  { return value{known: true, num: n, kind: 'n'} }
func unknownNum() value  { return value{kind: 'n'} }
func tm(t *time.Time) value {
	if t == nil || t.IsZero() {
		return value{kind: 't'}
	}
	return value{known: true, time: t.UTC(), kind: 't'}
}

func (v value) String() string {
	if !v.known {
		return ""
	}
	switch v.kind {
	case 'n':
		return strconv.FormatInt(v.num, 10)
	case 't':
		return v.time.Format(TimeLayout)
	}
	return v.text
}

func (v value) JSON() any {
	if !v.known {
		if v.kind == 's' {
			return ""
		}
		return nil
	}
	switch v.kind {
	case 'n':
		return v.num
	case 't':
		return v.time.Format(time.RFC3339)
	}
	return v.text
}

// Field names one P2U-2 field in each format.
type Field struct {
	XML, Form, JSON string
}

// Fields is the one list of post fields, in order (P2U-2).
var Fields = func() []Field {
	f := []Field{
		{"sessionid", "SessionID", "session_id"},
		{"techid", "TechID", "tech_id"},
		{"techssoid", "TechSSOID", "tech_sso_id"},
		{"techname", "TechName", "tech_name"},
		{"techemail", "TechEmail", "tech_email"},
		{"techdescr", "TechDescr", "tech_descr"},
	}
	for i := range 6 {
		f = append(f, Field{fmt.Sprintf("cfield%d", i), fmt.Sprintf("CField%d", i), fmt.Sprintf("cfield%d", i)})
	}
	f = append(f,
		Field{"tracking0", "Tracking0", "tracking0"},
		Field{"chatlog", "ChatLog", "chat_log"},
		Field{"notes", "Notes", "notes"},
		Field{"waitingtime", "WaitingTime", "waiting_time"},
		Field{"pickuptime", "PickupTime", "pickup_time"},
		Field{"closingtime", "ClosingTime", "closing_time"},
		Field{"worktime", "WorkTime", "work_time"},
		Field{"lastactiontime", "LastActionTime", "last_action_time"},
		Field{"transmitted", "Transmitted", "transmitted"},
		Field{"platform", "Platform", "platform"},
	)
	for i := range 10 {
		f = append(f, Field{fmt.Sprintf("tsurvey%d", i), fmt.Sprintf("TSurvey%d", i), fmt.Sprintf("tsurvey%d", i)})
	}
	return f
}()

// record is one post's values, in the order of Fields.
type record []value

// buildRecord reads the fields of s; the chat log holds messages after seq
// `after` (system messages only with noChat). It returns the highest message
// seq seen, to remember once the post is delivered.
func buildRecord(s sdk.Session, after int64, noChat bool) (record, int64) {
	r := make(record, 0, len(Fields))
	r = append(r, num(s.ID))
	if t := s.Technician; t != nil {
		r = append(r, num(t.ID), str(t.SSOID), str(t.Name), str(t.Email), str(t.Description))
	} else {
		r = append(r, unknownNum(), str(""), str(""), str(""), str(""))
	}
	for _, c := range s.CFields {
		r = append(r, str(c))
	}
	var chat, notes []string
	var last int64
	for _, m := range s.Messages {
		last = max(last, m.Seq)
		switch m.Kind {
		case "note":
			notes = append(notes, logLine(m))
		case "chat":
			if m.Seq > after && !noChat {
				chat = append(chat, logLine(m))
			}
		case "system":
			if m.Seq > after {
				chat = append(chat, logLine(m))
			}
		}
	}
	waiting := unknownNum()
	if s.PickedUpAt != nil {
		waiting = num(s.WaitingSecs)
	}
	work := unknownNum()
	if s.PickedUpAt != nil {
		work = num(s.WorkSecs)
	}
	r = append(r,
		str(s.TrackingID),
		str(strings.Join(chat, "\n")),
		str(strings.Join(notes, "\n")),
		waiting,
		tm(s.PickedUpAt),
		tm(s.ClosedAt),
		work,
		tm(s.LastActionAt),
		num(s.Transmitted),
		str(s.Platform),
	)
	for _, a := range s.TechSurvey {
		r = append(r, str(a))
	}
	if last <= after {
		last = 0
	}
	return r, last
}

// logLine formats a message as "[15:04:05] Name: text" (UTC), or
// "[15:04:05] text" when it has no sender name.
func logLine(m sdk.Message) string {
	ts := m.At.UTC().Format(ChatTimeLayout)
	if m.SenderName == "" {
		return fmt.Sprintf("[%s] %s", ts, m.Text)
	}
	return fmt.Sprintf("[%s] %s: %s", ts, m.SenderName, m.Text)
}

// encode renders a record in a format and returns the body and its
// Content-Type.
func encode(format string, r record, e sdk.Event) ([]byte, string) {
	switch format {
	case "form":
		return encodeForm(r), "application/x-www-form-urlencoded"
	case "json":
		return encodeJSON(r, e), "application/json"
	}
	return encodeXML(r), "application/xml; charset=utf-8"
}

func encodeXML(r record) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + XMLRoot + ">\n")
	for i, f := range Fields {
		fmt.Fprintf(&b, "  <%s>", f.XML)
		_ = xml.EscapeText(&b, []byte(r[i].String()))
		fmt.Fprintf(&b, "</%s>\n", f.XML)
	}
	b.WriteString("</" + XMLRoot + ">\n")
	return b.Bytes()
}

// encodeForm keeps the fields in their documented order (url.Values.Encode
// would sort them).
func encodeForm(r record) []byte {
	parts := make([]string, len(Fields))
	for i, f := range Fields {
		parts[i] = url.QueryEscape(f.Form) + "=" + url.QueryEscape(r[i].String())
	}
	return []byte(strings.Join(parts, "&"))
}

func encodeJSON(r record, e sdk.Event) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	kv := func(k string, v any, last bool) {
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		b.WriteString("  ")
		b.Write(kb)
		b.WriteString(": ")
		b.Write(vb)
		if !last {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	kv("event_id", e.ID, false)
	kv("event", e.Type, false)
	for i, f := range Fields {
		kv(f.JSON, r[i].JSON(), i == len(Fields)-1)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
