package main

import (
	"strings"
	"testing"
)

func TestStoreSelectionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown backend", []string{"report", "telegram", "--period", "2024", "--store", "postgres"}, `--store "postgres": want jetstream or esdb`},
		{"esdb without a url", []string{"timeline", "0192f3a0-5c00-7000-8000-00000000c0de", "--store", "esdb", "--esdb-url", ""}, "--store esdb needs --esdb-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ledgerRun(t, t.TempDir(), "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}
