//go:build race

package demo

// raceDetector: the race detector slows the full history (88k requests) to minutes, so
// under it the tests that would fold every country fold a sample instead; the README's
// demo command and the tests without -race cover every country.
const raceDetector = true
