//go:build !unix

package jetstream

import "time"

func processCPU() time.Duration { return 0 }
