//go:build unix

package jetstream

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, server included: on a shared machine
// it measures the cost of an event better than wall time does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
