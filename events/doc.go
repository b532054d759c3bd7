// Package events is the ledger's event catalogue: one Go type per fact, the CloudEvents
// envelope that carries it, and strict decoding. Events are immutable: a mistake is fixed by
// a new EntryCorrected event, never by rewriting a stored one.
package events
