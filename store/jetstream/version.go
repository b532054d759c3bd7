package jetstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// checkServerVersion refuses servers older than 2.12 (see minServerMajor).
func checkServerVersion(v string) error {
	ok, err := versionAtLeast(v, minServerMajor, minServerMinor)
	if err != nil {
		return fmt.Errorf("%w: cannot read server version %q: %v", ErrServerTooOld, v, err)
	}
	if !ok {
		return fmt.Errorf("%w: connected server is %s", ErrServerTooOld, v)
	}
	return nil
}

// versionAtLeast reports whether v ("2.15.2", "v2.12.0-RC.1", "2.12") is at least
// major.minor. Pre-release and build suffixes are ignored: a 2.12 release candidate
// already has the 2.12 publish checks.
func versionAtLeast(v string, major, minor int) (bool, error) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return false, errors.New("want MAJOR.MINOR[.PATCH]")
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return false, fmt.Errorf("component %q is not a number", p)
		}
		nums[i] = n
	}
	if nums[0] != major {
		return nums[0] > major, nil
	}
	return nums[1] >= minor, nil
}
