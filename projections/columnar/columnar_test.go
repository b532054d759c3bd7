package columnar_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/complianceledger/ledger/projections/columnar"
)

type state struct {
	flags []bool
	small []uint8
	codes []uint16
	ids   []uint32
	items []int32
	times []int64
	wide  []uint64
	names []string
}

func (s *state) columns() []any {
	return []any{&s.flags, &s.small, &s.codes, &s.ids, &s.items, &s.times, &s.wide, &s.names}
}

func TestColumnsReadBackAsWritten(t *testing.T) {
	t.Parallel()
	in := state{
		flags: []bool{true, false, true}, small: []uint8{0, 255}, codes: []uint16{1, 65535}, ids: []uint32{7},
		items: []int32{-5, 1 << 30}, times: []int64{-1, 1 << 62}, wide: []uint64{1<<64 - 1}, names: []string{"", "FR", "Côte d'Ivoire"},
	}
	data := columnar.Marshal(nil, in.columns()...)
	var out state
	if err := columnar.Unmarshal(data, out.columns()...); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("read %+v, wrote %+v", out, in)
	}
	if again := columnar.Marshal(nil, out.columns()...); !bytes.Equal(again, data) {
		t.Error("equal states gave different bytes")
	}
}

func TestDamagedColumnsAreRefused(t *testing.T) {
	t.Parallel()
	in := state{ids: []uint32{1, 2, 3}, names: []string{"abc"}, times: []int64{9}}
	data := columnar.Marshal(nil, in.columns()...)
	for name, bad := range map[string][]byte{
		"cut":      data[:len(data)-1],
		"trailing": append(bytes.Clone(data), 0),
		"empty":    nil,
		"length":   append([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, data[1:]...),
	} {
		var out state
		if err := columnar.Unmarshal(bad, out.columns()...); !errors.Is(err, columnar.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
