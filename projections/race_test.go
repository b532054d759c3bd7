//go:build race

package projections_test

// raceDetector: the race detector slows the property tests about ninefold, so under it
// they check fewer random histories (a new seed each run).
const raceDetector = true
