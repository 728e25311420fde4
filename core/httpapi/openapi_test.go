package httpapi_test

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tetherhq/tether/core/httpapi"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes checks that the served document is valid OpenAPI 3
// and lists exactly the routes the router registers, no more, no fewer.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	e := newEnv(t, storetest.SQLite(t))
	var served []string
	for _, r := range e.hub.API.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("openapi.json and the router disagree\ndocumented:\n%s\n\nserved:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
	// The served copy is the embedded one.
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	if r.Status != 200 || string(r.Body) != string(httpapi.OpenAPIDocument()) {
		t.Fatalf("GET /api/v1/openapi.json: %d", r.Status)
	}
}

// jsonNames lists the JSON properties encoding/json writes for a struct
// type (embedded structs flattened), and those it always writes (no
// omitempty).
func jsonNames(t reflect.Type) (all, always []string) {
	for f := range t.Fields() {
		tag, ok := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && !ok {
			a, w := jsonNames(f.Type)
			all, always = append(all, a...), append(always, w...)
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			always = append(always, name)
		}
	}
	return all, always
}

// TestOpenAPISchemasMatchTheGoTypes: the schemas of the session API list
// exactly the properties the Go types encode, and those encoded always are
// required, so that a field added to a type without its schema (or the
// other way round) fails here, not in a client. A queue entry is a
// session plus the queue's fields, with the same schema for every session
// property.
func TestOpenAPISchemasMatchTheGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, c := range []struct {
		schema   string
		typ      reflect.Type
		required bool // a response-only schema: required is what is always written
	}{
		{"Session", reflect.TypeFor[sessions.Session](), true},
		{"QueueEntry", reflect.TypeFor[sessions.QueueEntry](), true},
		{"SessionTimes", reflect.TypeFor[sessions.Seconds](), false},
		{"Fields", reflect.TypeFor[sessions.Fields](), false},
		{"ChannelForm", reflect.TypeFor[sessions.ChannelForm](), false},
		{"CustomerSession", reflect.TypeFor[httpapi.CustomerSession](), true},
	} {
		ref := doc.Components.Schemas[c.schema]
		if ref == nil {
			t.Errorf("no schema %s", c.schema)
			continue
		}
		s := ref.Value
		all, always := jsonNames(c.typ)
		documented := slices.Sorted(maps.Keys(s.Properties))
		if slices.Sort(all); !slices.Equal(documented, all) {
			t.Errorf("%s documents %v; %s encodes %v", c.schema, documented, c.typ, all)
		}
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("%s allows properties it does not list", c.schema)
		}
		if !c.required {
			continue
		}
		req := slices.Sorted(slices.Values(s.Required))
		if slices.Sort(always); !slices.Equal(req, always) {
			t.Errorf("%s requires %v; %s always encodes %v", c.schema, req, c.typ, always)
		}
	}
	session, entry := doc.Components.Schemas["Session"].Value, doc.Components.Schemas["QueueEntry"].Value
	for name, p := range session.Properties {
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(entry.Properties[name])
		if string(a) != string(b) {
			t.Errorf("QueueEntry's %s is %s, Session's %s", name, b, a)
		}
	}
}

// apiCheck validates requests and responses against the document.
type apiCheck struct {
	t   *testing.T
	e   *env
	doc *openapi3.T
	// seen holds, per schema, the properties found in validated answers.
	seen map[string]map[string]bool
}

func (c *apiCheck) schema(name string) *openapi3.Schema { return c.doc.Components.Schemas[name].Value }

func (c *apiCheck) validate(what string, s *openapi3.Schema, v any) {
	c.t.Helper()
	if err := s.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		b, _ := json.Marshal(v)
		c.t.Errorf("%s does not match its schema: %v\n%s", what, err, b)
	}
}

func (c *apiCheck) saw(schema string, v any) {
	m, _ := v.(map[string]any)
	if c.seen[schema] == nil {
		c.seen[schema] = map[string]bool{}
	}
	for k := range m {
		c.seen[schema][k] = true
	}
}

// call sends a request to the path template filled with args, checks its
// body against the operation's request schema and the answer against the
// schema of the status it got, which must be want.
func (c *apiCheck) call(token, method, template string, body any, want int, args ...string) map[string]any {
	c.t.Helper()
	item := c.doc.Paths.Value(template)
	if item == nil || item.GetOperation(method) == nil {
		c.t.Fatalf("%s %s is not documented", method, template)
	}
	op := item.GetOperation(method)
	if body != nil {
		b, _ := json.Marshal(body)
		var v any
		_ = json.Unmarshal(b, &v)
		if op.RequestBody == nil {
			c.t.Fatalf("%s %s documents no request body", method, template)
		}
		if err := op.RequestBody.Value.GetMediaType("application/json").Schema.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsRequest()); err != nil {
			c.t.Errorf("the request body of %s %s does not match its schema: %v\n%s", method, template, err, b)
		}
	}
	path := template
	for _, a := range args {
		path = path[:strings.Index(path, "{")] + a + path[strings.Index(path, "}")+1:]
	}
	r := c.e.do(method, path, token, body)
	if r.Status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	resp := op.Responses.Status(r.Status)
	if resp == nil {
		c.t.Fatalf("%s %s: status %d is not documented", method, template, r.Status)
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil {
		if len(r.Body) != 0 {
			c.t.Errorf("%s %s: %d documents no body but has %s", method, template, r.Status, r.Body)
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		c.t.Fatalf("%s %s: %s is not JSON: %v", method, path, r.Body, err)
	}
	c.validate(method+" "+path, mt.Schema.Value, v)
	switch mt.Schema.Ref {
	case "#/components/schemas/Session":
		c.saw("Session", v)
	case "#/components/schemas/CustomerJoined":
		c.saw("CustomerSession", v.(map[string]any)["session"])
	case "#/components/schemas/CustomerSession":
		c.saw("CustomerSession", v)
	}
	m, _ := v.(map[string]any)
	return m
}

// queue validates the technician's queue and returns its session IDs in order.
func (c *apiCheck) queue(token string) []int64 {
	c.t.Helper()
	var ids []int64
	for _, s := range c.call(token, "GET", "/api/v1/queue", nil, 200)["sessions"].([]any) {
		c.saw("QueueEntry", s)
		ids = append(ids, int64(s.(map[string]any)["id"].(float64)))
	}
	return ids
}

// TestOpenAPIDescribesSessionResponses drives the session API through
// channel and private sessions, routing priorities, hold, transfer and
// close, and checks every request and answer against the document: the
// schemas forbid properties they do not list, so each answer must list
// exactly what the handlers write. It also checks the live queue's frames
// against QueueEntry, and that each session schema's every property was
// met in some answer.
func TestOpenAPIDescribesSessionResponses(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	c := &apiCheck{t: t, e: e, doc: loadOpenAPI(t), seen: map[string]map[string]bool{}}
	m := e.master()
	g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Helpdesk"}))
	_, tina := e.technician(m, g, "tina@example.com")
	tomID, tom := e.technician(m, g, "tom@example.com")
	for _, tok := range []string{tina, tom} {
		e.do("PUT", "/api/v1/me/status", tok, map[string]string{"status": "online"})
	}
	ch := e.firstChannel(m)
	e.do("PUT", "/api/v1/channels/"+ch+"/groups/"+g, m, nil)
	e.create(m, "/api/v1/channels/"+ch+"/routing-rules", map[string]any{"name": "Urgent first", "enabled": true,
		"when": `session.tracking_id == "URGENT"`,
		"then": map[string]any{"target": map[string]any{"kind": "group", "ids": []int64{atoi(g)}}, "session_priority": 40}})

	// A private session, pending with its PIN, then joined.
	created := c.call(tina, "POST", "/api/v1/sessions", map[string]any{"fields": map[string]any{
		"cfields": []string{"Pat", "", "", "", "", ""}, "tracking_id": "CASE-1"}}, 201)
	c.saw("Session", created["session"])
	private := itoa(int64(created["session"].(map[string]any)["id"].(float64)))
	c.call(tina, "GET", "/api/v1/sessions/{id}", nil, 200, private)
	c.queue(tina)
	joined := c.call("", "POST", "/api/v1/customer/join", map[string]any{"pin": created["pin"], "client_kind": "applet",
		"platform": "linux", "language": "de"}, 201)
	c.call(joined["secret"].(string), "GET", "/api/v1/customer/session", nil, 200)

	// Two channel sessions: the urgent one, opened second, comes first.
	open := func(name, tracking, language string) string {
		t.Helper()
		j := c.call("", "POST", "/api/v1/customer/channels/{id}/sessions", map[string]any{
			"fields":      map[string]any{"cfields": []string{name, "", "", "", "", ""}, "tracking_id": tracking},
			"client_kind": "web", "platform": "windows", "language": language}, 201, ch)
		return itoa(int64(j["session"].(map[string]any)["id"].(float64)))
	}
	routine := open("Rita", "ROUTINE", "fr")
	urgent := open("Uma", "URGENT", "en-GB")
	e.waitQueue(tina, atoi(urgent), true)
	e.waitQueue(tina, atoi(routine), true)
	if q := c.queue(tina); slices.Index(q, atoi(urgent)) > slices.Index(q, atoi(routine)) {
		t.Errorf("tina's queue %v lists the urgent session %s after the routine one %s", q, urgent, routine)
	}

	// Picked up, held, resumed and transferred to Tom with a comment: an
	// outgoing entry for Tina, an incoming one for Tom.
	for _, act := range []string{"pickup", "hold", "resume"} {
		c.call(tina, "POST", "/api/v1/sessions/{id}/"+act, nil, 200, routine)
	}
	c.call(tina, "POST", "/api/v1/sessions/{id}/transfer", map[string]any{"target_kind": "technician", "target_id": tomID,
		"comment": "printer expert"}, 200, routine)
	c.queue(tina)
	c.queue(tom)

	// The live queue pushes the same entries.
	live := e.dial("/api/v1/queue/live", tom)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var frame map[string]any
	if err := wsjson.Read(ctx, live.conn, &frame); err != nil {
		t.Fatalf("live queue: %v", err)
	}
	pushed, _ := frame["sessions"].([]any)
	if frame["type"] != "queue" || len(pushed) == 0 {
		t.Fatalf("live queue frame: %v", frame)
	}
	if at, _ := frame["at"].(string); at == "" {
		t.Errorf("live queue frame without its time: %v", frame)
	} else if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
		t.Errorf("live queue frame time %q: %v", at, err)
	}
	for i, s := range pushed {
		c.validate("live queue entry "+itoa(int64(i)), c.schema("QueueEntry"), s)
	}

	// Ended sessions, on both sides.
	c.call(tina, "POST", "/api/v1/sessions/{id}/pickup", nil, 200, urgent)
	c.call(tina, "POST", "/api/v1/sessions/{id}/close", nil, 200, urgent)
	c.call(tina, "GET", "/api/v1/sessions/{id}", nil, 200, urgent)
	c.call(joined["secret"].(string), "POST", "/api/v1/customer/session/close", nil, 200)
	c.call(m, "POST", "/api/v1/channels/{id}/test", nil, 201, ch)

	for _, name := range []string{"Session", "QueueEntry"} {
		for p := range c.schema(name).Properties {
			if !c.seen[name][p] {
				t.Errorf("no answer had %s's property %s: the test does not exercise it", name, p)
			}
		}
	}
}
