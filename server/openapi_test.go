package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// TestOpenAPIDocumentsEveryRoute: the document kept in the repo and served at /openapi.json
// lists exactly the registered routes, each with the roles the server enforces.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Roles     []auth.Role `json:"x-roles"`
			Responses map[string]any
		}
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, rt := range server.Routes() {
		key := rt.Method + " " + rt.Path
		op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s is not in openapi.json", key)
			continue
		}
		delete(documented, key)
		want := slices.Clone(rt.Roles)
		got := slices.Clone(op.Roles)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-roles %v, the server allows %v", key, got, want)
		}
		if len(rt.Roles) > 0 && (op.Responses["401"] == nil || op.Responses["403"] == nil) {
			t.Errorf("%s: 401 and 403 are not documented", key)
		}
	}
	for key := range documented {
		t.Errorf("openapi.json documents %s, which the server does not route", key)
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/openapi.json", "", nil)
	if r.status != 200 || string(r.body) != string(server.OpenAPI()) {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
}
