package events

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

var (
	// ErrInvalid is wrapped by every FieldError, so callers can test for bad input with errors.Is.
	ErrInvalid = errors.New("events: invalid input")
	// ErrUnknownType is returned when an envelope names an event type the catalogue does not hold.
	ErrUnknownType = errors.New("events: unknown event type")
)

// FieldError says which field broke which rule. Field is a JSON path such as "targets[2].account".
type FieldError struct {
	Field string
	Rule  string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Rule
	}
	return e.Field + ": " + e.Rule
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid builds a FieldError; rule is a format string.
func Invalid(field, rule string, args ...any) error {
	return &FieldError{Field: field, Rule: fmt.Sprintf(rule, args...)}
}

// Quote quotes a value for an error message, cut to its first 40 characters: a refusal
// names the value without echoing a megabyte of it back.
func Quote(s string) string {
	const most = 40
	if utf8.RuneCountInString(s) <= most {
		return strconv.Quote(s)
	}
	i := 0
	for n := range s {
		if i == most {
			return strconv.Quote(s[:n]) + "…"
		}
		i++
	}
	return strconv.Quote(s)
}

// JSONError turns a decoding error of github.com/go-json-experiment/json (encoding/json/v2)
// into a FieldError whose field is the JSON path, e.g. "targets[0].account".
func JSONError(err error) error {
	var semErr *jsonv2.SemanticError
	var synErr *jsontext.SyntacticError
	switch {
	case errors.As(err, &semErr):
		field := jsonPath(semErr.JSONPointer)
		var timeErr *time.ParseError
		switch {
		case errors.Is(semErr.Err, jsonv2.ErrUnknownName):
			return Invalid(field, "is not a known field")
		case errors.As(err, &timeErr) || semErr.GoType == reflect.TypeFor[time.Time]():
			return Invalid(field, "must be an RFC 3339 time such as 2024-10-01T09:30:00Z")
		case semErr.GoType != nil && semErr.JSONKind == '0' && jsonKindOf(semErr.GoType) == "a JSON number":
			return Invalid(field, "must be a whole number within range")
		case semErr.GoType != nil:
			return Invalid(field, "must be %s, not %s", jsonKindOf(semErr.GoType), semErr.JSONKind)
		}
		return Invalid(field, "%v", semErr.Err)
	case errors.As(err, &synErr):
		if errors.Is(synErr.Err, jsontext.ErrDuplicateName) {
			return Invalid(jsonPath(synErr.JSONPointer), "appears more than once")
		}
		if strings.Contains(synErr.Err.Error(), "after top-level value") {
			return Invalid("", "trailing data after the JSON value at byte %d", synErr.ByteOffset)
		}
		return Invalid(jsonPath(synErr.JSONPointer), "malformed JSON at byte %d: %v", synErr.ByteOffset, synErr.Err)
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}

// jsonPath writes a JSON Pointer ("/targets/0/account") as the path people read; a path
// deeper than any command's is cut, so that a hostile nesting is not echoed back whole.
func jsonPath(p jsontext.Pointer) string {
	const deepest = 8
	var b strings.Builder
	depth := 0
	for tok := range p.Tokens() {
		if depth++; depth > deepest {
			b.WriteString("…")
			break
		}
		if _, err := strconv.Atoi(tok); err == nil {
			fmt.Fprintf(&b, "[%s]", tok)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		// A name no command has (an unknown field) is the caller's: quoted when long or odd.
		if utf8.RuneCountInString(tok) > 40 || strings.ContainsFunc(tok, func(r rune) bool { return !strconv.IsPrint(r) }) {
			tok = Quote(tok)
		}
		b.WriteString(tok)
	}
	return b.String()
}

func jsonKindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Pointer:
		return jsonKindOf(t.Elem())
	}
	return "a JSON number"
}
