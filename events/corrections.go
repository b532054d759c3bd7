package events

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// receivedCorrections are the fields of a RequestReceived that an EntryCorrected may change,
// each setting its new value after the check the field's own rule makes. The views apply
// them; a correction of any other field would be recorded but mean nothing to a report, so
// it is refused.
var receivedCorrections = map[string]func(*RequestReceived, json.RawMessage) error{
	"authority.country": func(e *RequestReceived, v json.RawMessage) error {
		return set(&e.Authority.Country, v, Country.Validate)
	},
	"authority.kind": func(e *RequestReceived, v json.RawMessage) error {
		return set(&e.Authority.Kind, v, AuthorityKind.Validate)
	},
	"authority.name": func(e *RequestReceived, v json.RawMessage) error {
		return set(&e.Authority.Name, v, limited("authority.name"))
	},
	"instrument": func(e *RequestReceived, v json.RawMessage) error {
		return set(&e.Instrument, v, Instrument.Validate)
	},
	"emergency": func(e *RequestReceived, v json.RawMessage) error { return set(&e.Emergency, v, nil) },
	// A v1 order, recorded before the DSA block existed, gets its category this way.
	"dsa": func(e *RequestReceived, v json.RawMessage) error {
		return set(&e.DSA, v, func(o *DSAOrder, field string) error {
			if o == nil {
				return Invalid(field, "must be a DSA block, not null")
			}
			return o.Validate(field)
		})
	},
	"eevidence": func(e *RequestReceived, v json.RawMessage) error {
		return set(&e.EEvidence, v, func(o *EEvidenceOrder, field string) error {
			if o == nil {
				return Invalid(field, "must be an e-Evidence block, not null")
			}
			return o.Validate(field)
		})
	},
}

// set decodes a corrected value into dst if it passes check.
func set[T any](dst *T, raw json.RawMessage, check func(T, string) error) error {
	var v T
	if err := StrictUnmarshal(raw, &v); err != nil {
		return Invalid("value", "%v", err)
	}
	if check != nil {
		if err := check(v, "value"); err != nil {
			return err
		}
	}
	*dst = v
	return nil
}

// limited checks a corrected value as the field's own value is checked: not empty, and within
// the field's limit.
func limited(path string) func(string, string) error {
	l, _ := LimitOf(path)
	return func(s, field string) error {
		if _, _, sealed := ParseSealed(s); sealed {
			return nil // checked in the clear before it was sealed
		}
		if s == "" {
			return Invalid(field, "must not be empty")
		}
		return l.Check(field, s)
	}
}

// ValidateCorrection checks that a correction of an event called eventName names a field the
// ledger can correct and gives it a valid value.
func ValidateCorrection(eventName string, c *EntryCorrected) error {
	if eventName != "RequestReceived" {
		return Invalid("entry", "a %s cannot be corrected; only a RequestReceived can", eventName)
	}
	corrected, err := RequestReceived{}.Corrected(c)
	if err == nil && c.Field == "dsa" {
		err = corrected.DSA.ValidateNew("value")
	}
	return err
}

// Corrected returns a copy of the RequestReceived with a correction applied.
func (e RequestReceived) Corrected(c *EntryCorrected) (RequestReceived, error) {
	apply, ok := receivedCorrections[c.Field]
	if !ok {
		return e, Invalid("field", "%s of a RequestReceived cannot be corrected; correctable: %s",
			Quote(c.Field), strings.Join(slices.Sorted(maps.Keys(receivedCorrections)), ", "))
	}
	err := apply(&e, c.Value)
	return e, err
}
