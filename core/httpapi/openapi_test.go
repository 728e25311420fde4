package httpapi_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tetherhq/tether/core/httpapi"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestOpenAPIMatchesRoutes checks that the served document is valid OpenAPI 3
// and lists exactly the routes the router registers, no more, no fewer.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
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
