package hostapi

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/sdk"
)

func TestMetricsRecord(t *testing.T) {
	m := NewMetrics()
	tests := []struct {
		name    string
		obs     sdk.Metric
		wantErr string // "" for accepted
	}{
		{"counter", sdk.Metric{Name: "posts", Kind: "counter", Value: 2, Labels: map[string]string{"url": "crm"}}, ""},
		{"counter again", sdk.Metric{Name: "posts", Kind: "counter", Value: 3, Labels: map[string]string{"url": "crm"}}, ""},
		{"gauge", sdk.Metric{Name: "backlog", Kind: "gauge", Value: 7}, ""},
		{"bad name", sdk.Metric{Name: "Posts-Total", Kind: "counter", Value: 1}, "name"},
		{"bad kind", sdk.Metric{Name: "x", Kind: "histogram", Value: 1}, "kind"},
		{"counter down", sdk.Metric{Name: "posts", Kind: "counter", Value: -1, Labels: map[string]string{"url": "crm"}}, "value"},
		{"reserved label", sdk.Metric{Name: "y", Kind: "gauge", Value: 1, Labels: map[string]string{"plugin": "x"}}, "labels"},
		{"other labels", sdk.Metric{Name: "posts", Kind: "counter", Value: 1, Labels: map[string]string{"host": "a"}}, "labels"},
		{"other kind", sdk.Metric{Name: "posts", Kind: "gauge", Value: 1, Labels: map[string]string{"url": "crm"}}, "labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Record("posturl", tt.obs)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want one about %s", err, tt.wantErr)
			}
		})
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			if c := s.GetCounter(); c != nil {
				got[f.GetName()] = c.GetValue()
			} else {
				got[f.GetName()] = s.GetGauge().GetValue()
			}
		}
	}
	if got["tether_plugin_posts"] != 5 || got["tether_plugin_backlog"] != 7 || len(got) != 2 {
		t.Errorf("gathered %v, want posts=5 (added) and backlog=7", got)
	}
}
