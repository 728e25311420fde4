package settings

import (
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"testing"

	"github.com/tetherhq/tether/core/fault"
)

type Embedded struct {
	Shared string `json:"shared"`
}

type shape struct {
	Embedded
	Count  uint8          `json:"count"`
	Limits map[string]int `json:"limits"`
	Addr   netip.Addr     `json:"addr"`
	Quoted int            `json:"quoted,string"`
	Ratio  float32        `json:"ratio"`
	Nested *struct {
		On bool `json:"on"`
	} `json:"nested"`
	Ignored string `json:"-"`
}

func TestDecodeValueNamesFields(t *testing.T) {
	sec := Section{Name: "shape", New: func() any { return &shape{Count: 3} }}
	tests := []struct {
		in   string
		want map[string]string // nil: accepted
	}{
		{`{"shared":"x","count":200,"limits":{"a":1},"addr":"10.0.0.1","quoted":"4","ratio":0.5,"nested":{"on":true}}`, nil},
		{`{"SHARED":"case differs, as encoding/json allows"}`, nil},
		{`{"shared":1}`, map[string]string{"shared": "must be a string"}},
		{`{"count":-1}`, map[string]string{"count": "must not be negative"}},
		{`{"count":300}`, map[string]string{"count": "is out of range"}},
		{`{"ratio":1e300}`, map[string]string{"ratio": "is out of range"}},
		{`{"limits":{"a":"x","b":2}}`, map[string]string{"limits[a]": "must be a number"}},
		{`{"limits":[1]}`, map[string]string{"limits": "must be an object"}},
		{`{"addr":4}`, map[string]string{"addr": "must be a string"}},
		{`{"nested":{"on":"yes","off":1}}`, map[string]string{"nested.on": "must be true or false", "nested.off": "is not a known field"}},
		{`{"Ignored":"x","count":true}`, map[string]string{"Ignored": "is not a known field", "count": "must be a number"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := decodeValue(sec, json.RawMessage(tt.in))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			fe, ok := fault.As(err)
			if !ok || fe.Kind != fault.BadRequest || !maps.Equal(fe.Fields, tt.want) {
				t.Fatalf("error = %v, want bad request with fields %v", err, tt.want)
			}
		})
	}
}

func TestDecodeValueKeepsDefaults(t *testing.T) {
	sec := Section{Name: "shape", New: func() any { return &shape{Count: 3, Embedded: Embedded{Shared: "d"}} }}
	v, err := decodeValue(sec, json.RawMessage(`{"ratio":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := v.(*shape); s.Count != 3 || s.Shared != "d" || s.Ratio != 2 {
		t.Errorf("decoded %+v, want defaults kept", s)
	}
}

func TestDecodeValuePlainErrorFromSectionCheck(t *testing.T) {
	sec := Section{Name: "shape", New: func() any { return &shape{} }, Validate: func(any) error { return errors.New("needs a count") }}
	_, err := decodeValue(sec, json.RawMessage(`{}`))
	if fe, ok := fault.As(err); !ok || fe.Kind != fault.Invalid || fe.Fields["value"] != "needs a count" {
		t.Errorf("error = %v, want invalid value", err)
	}
}

func TestFieldsFromJSONError(t *testing.T) {
	var s shape
	err := json.Unmarshal([]byte(`{"nested":{"on":1}}`), &s)
	if got := fieldsFromJSONError(err); got["nested.on"] != "must be true or false" {
		t.Errorf("type error fields = %v", got)
	}
	if got := fieldsFromJSONError(errors.New(`json: unknown field "x"`)); got["x"] != "is not a known field" {
		t.Errorf("unknown field fields = %v", got)
	}
}
