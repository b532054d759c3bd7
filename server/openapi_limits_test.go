package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/server"
)

var update = flag.Bool("update", false, "rewrite openapi.json's command schemas and the README's limits from events.Limits")

// TestOpenAPICommandSchemasFollowTheLimits: openapi.json's schema of each command (its
// fields, types, closed sets, and each limited field's maxLength and pattern) and of the
// Idempotency-Key header are generated from the commands' Go types and events.Limits; the
// test fails when the file is stale (`go generate ./server` rewrites it).
func TestOpenAPICommandSchemasFollowTheLimits(t *testing.T) {
	const file = "openapi.json"
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := withSchemas(doc, commandSchemas(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, doc) {
		t.Errorf("%s is stale: its command schemas differ from events.Limits and the commands' types; run go generate ./server and review the diff", file)
	}
}

// TestREADMEListsEveryLimit: the README's table of field limits is generated from
// events.Limits, with the commands that carry each field.
func TestREADMEListsEveryLimit(t *testing.T) {
	const file, begin, end = "../README.md", "<!-- limits: generated from events.Limits by go generate ./server -->\n", "<!-- end of limits -->\n"
	readme, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("%s has no section between %q and %q", file, begin, end)
	}
	got := before + begin + limitsTable(t) + end + after
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(readme) {
		t.Errorf("%s's table of limits is stale; run go generate ./server and review the diff", file)
	}
}

// carriers maps each limited field to the commands that have it.
func carriers(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for _, name := range aggregates.CommandNames() {
		paths, _ := events.StringFields(reflect.TypeOf(newCommand(t, name)))
		for _, p := range paths {
			if _, ok := events.LimitOf(p); ok && !slices.Contains(out[p], name) {
				out[p] = append(out[p], name)
			}
		}
	}
	return out
}

func limitsTable(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| field | commands | at most (characters) | may hold |\n|---|---|---|---|\n")
	all := len(aggregates.CommandNames())
	by := carriers(t)
	for _, l := range events.Limits {
		commands := "HTTP header of `POST /v1/commands`"
		if cs := by[l.Field]; len(cs) == all {
			commands = "every command"
		} else if len(cs) > 0 {
			commands = strings.Join(cs, ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %d | %s |\n", l.Field, commands, l.Max, strings.ReplaceAll(l.Syntax.Words, `\n`, "`\\n`"))
	}
	return b.String()
}

func newCommand(t *testing.T, name string) aggregates.Command {
	t.Helper()
	c, err := aggregates.DecodeCommand([]byte(`{"command":"` + name + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// object is a JSON object that keeps its members' order.
type object []member

type member struct {
	name  string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.name)
		value, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func enum[E ~string](set []E) []string {
	out := make([]string, len(set))
	for i, e := range set {
		out[i] = string(e)
	}
	return out
}

// closedSets are the named string types that check themselves against a closed set.
func closedSets() map[reflect.Type]object {
	var categories, keywords []string
	for _, e := range events.DSATaxonomy() {
		categories = append(categories, string(e.Category))
		for _, k := range e.Keywords {
			if !slices.Contains(keywords, string(k)) {
				keywords = append(keywords, string(k))
			}
		}
	}
	str := func(values []string) object { return object{{"type", "string"}, {"enum", values}} }
	return map[reflect.Type]object{
		reflect.TypeFor[events.AuthorityKind]():         str(enum(events.AuthorityKinds)),
		reflect.TypeFor[events.Instrument]():            str(enum(events.Instruments)),
		reflect.TypeFor[events.IdentifierType]():        str(enum(events.IdentifierTypes)),
		reflect.TypeFor[events.DataCategory]():          str(enum(events.DataCategories)),
		reflect.TypeFor[events.VerificationMethod]():    str(enum(events.VerificationMethods)),
		reflect.TypeFor[events.ReviewOutcome]():         str(enum(events.ReviewOutcomes)),
		reflect.TypeFor[events.Outcome]():               str(enum(events.Outcomes)),
		reflect.TypeFor[events.DeliveryChannel]():       str(enum(events.DeliveryChannels)),
		reflect.TypeFor[events.NotificationDecision]():  str(enum(events.NotificationDecisions)),
		reflect.TypeFor[events.EEvidenceData]():         str(enum(events.EEvidenceDataCategories)),
		reflect.TypeFor[events.RefusalGround]():         str(enum(events.RefusalGrounds)),
		reflect.TypeFor[events.PreservationExtension](): str(enum(events.PreservationExtensions)),
		reflect.TypeFor[events.ChannelKind]():           str(enum(events.ChannelKinds)),
		reflect.TypeFor[events.RegistryStatus]():        str(enum(events.RegistryStatuses)),
		reflect.TypeFor[events.DSACategory]():           str(categories),
		reflect.TypeFor[events.DSAKeyword]():            str(keywords),
		reflect.TypeFor[events.Country]():               {{"type", "string"}, {"pattern", "^[A-Z]{2}$"}, {"description", "ISO 3166-1 alpha-2"}},
	}
}

// commandSchemas are the generated members of components.schemas: Command (one of the
// commands), one schema per command, and IdempotencyKey.
func commandSchemas(t *testing.T) object {
	sets := closedSets()
	names := aggregates.CommandNames()
	var oneOf []object
	mapping := object{}
	roles := make([]string, len(names))
	for i, name := range names {
		ref := "#/components/schemas/" + name
		oneOf = append(oneOf, object{{"$ref", ref}})
		mapping = append(mapping, member{name, ref})
		roles[i] = name + ": " + string(server.CommandRole(name))
	}
	out := object{{"Command", object{
		{"type", "object"},
		{"description", "One command, exactly as a line of `ledger submit`; unknown fields are refused. Each command's fields, with the limits of events.Limits, are in the schema named after it. Roles: " + strings.Join(roles, ", ") + "."},
		{"required", []string{"command"}},
		{"oneOf", oneOf},
		{"discriminator", object{{"propertyName", "command"}, {"mapping", mapping}}},
	}}}
	for _, name := range names {
		s := schemaOf(t, sets, reflect.TypeOf(newCommand(t, name)), "")
		// The command's name is its discriminator: one value.
		s = append(object{s[0], s[1], {"required", []string{"command"}}}, s[2:]...)
		props := s[len(s)-1].value.(object)
		props[0].value = object{{"type", "string"}, {"enum", []string{name}}}
		out = append(out, member{name, s})
	}
	key, _ := events.LimitOf("Idempotency-Key")
	out = append(out, member{"IdempotencyKey", limited(key)})
	return out
}

func limited(l events.Limit) object {
	words := l.Syntax.Words
	if note := notes[l.Field[strings.LastIndex(l.Field, ".")+1:]]; note != "" {
		words += ". " + note
	}
	return object{{"type", "string"}, {"maxLength", l.Max}, {"pattern", l.Syntax.Pattern()}, {"description", words}}
}

// notes say what a field means where its name does not.
var notes = map[string]string{
	"command_id": "Idempotency: the same command id is recorded once per request. Defaults to the Idempotency-Key header, else a fresh UUID.",
	"request_id": "receive_request gets one if none (derived from the caller and the Idempotency-Key when there is one).",
	"at":         "Business time (when the fact happened); default now. At most 5 minutes (ledger serve --max-skew) ahead of the server's clock, never before the delivery or the facts it follows.",
	"account":    "The platform's raw account id, pseudonymised on intake; give account or account_ref.",
}

// schemaOf is the schema of a Go type as the strict decoder reads it.
func schemaOf(t *testing.T, sets map[reflect.Type]object, typ reflect.Type, path string) object {
	if l, ok := events.LimitOf(path); ok && typ.Kind() == reflect.String {
		return limited(l)
	}
	switch {
	case typ == reflect.TypeFor[json.RawMessage]():
		return object{{"description", "any JSON value"}}
	case typ == reflect.TypeFor[time.Time]() && notes[path] != "":
		return object{{"type", "string"}, {"format", "date-time"}, {"description", notes[path]}}
	case typ == reflect.TypeFor[time.Time]():
		return object{{"type", "string"}, {"format", "date-time"}}
	case sets[typ] != nil:
		return sets[typ]
	}
	switch typ.Kind() {
	case reflect.Pointer:
		return schemaOf(t, sets, typ.Elem(), path)
	case reflect.Bool:
		return object{{"type", "boolean"}}
	case reflect.Int:
		return object{{"type", "integer"}}
	case reflect.Slice:
		return object{{"type", "array"}, {"items", schemaOf(t, sets, typ.Elem(), path+"[]")}}
	case reflect.Struct:
		props := object{}
		properties(t, sets, typ, path, &props)
		return object{{"type", "object"}, {"additionalProperties", false}, {"properties", props}}
	}
	t.Fatalf("%s: no schema for %v: give it a limit in events.Limits or a closed set here", path, typ)
	return nil
}

func properties(t *testing.T, sets map[reflect.Type]object, typ reflect.Type, path string, props *object) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case f.Anonymous && name == "":
			properties(t, sets, f.Type, path, props)
		default:
			p := name
			if path != "" {
				p = path + "." + name
			}
			*props = append(*props, member{name, schemaOf(t, sets, f.Type, p)})
		}
	}
}

// withSchemas replaces the generated members of components.schemas in an OpenAPI document
// (at the place of Command), keeping every other byte: the file is indented as jsontext
// indents.
func withSchemas(doc []byte, schemas object) ([]byte, error) {
	generated := map[string]bool{}
	for _, m := range schemas {
		generated[m.name] = true
	}
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := tok.String()
		if tok.Kind() != '"' || dec.StackDepth() != 3 || string(dec.StackPointer()) != "/components/schemas/"+name || !generated[name] {
			if err := enc.WriteToken(tok); err != nil {
				return nil, err
			}
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return nil, err
		}
		if name != "Command" {
			continue
		}
		for _, m := range schemas {
			v, err := json.Marshal(m.value)
			if err != nil {
				return nil, err
			}
			if err := enc.WriteToken(jsontext.String(m.name)); err != nil {
				return nil, err
			}
			if err := enc.WriteValue(v); err != nil {
				return nil, err
			}
		}
	}
	v := jsontext.Value(out.Bytes())
	if err := v.Indent(jsontext.WithIndent("  ")); err != nil {
		return nil, err
	}
	return append(v, '\n'), nil
}
