package server

import (
	"errors"
	"net/http"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
)

// The Merkle tree as C2SP tlog-tiles (https://c2sp.org/tlog-tiles) under the prefix /tlog:
// GET /tlog/checkpoint and GET /tlog/tile/<L>/<N>[.p/<W>], read-only, so that a standard
// tlog client follows the log and computes its own proofs. Entry bundles (tile/entries/...)
// are not served: the events are a request's data, given one at a time by
// /v1/proofs/inclusion to those entitled to them. The tiles hold hashes only, but they and
// the checkpoint tell the log's size and growth, which /v1/checkpoints gives only to the
// auditor and regulators: the same roles read the tiles, with the same bearer tokens.

// tlogCheckpoint answers GET /tlog/checkpoint: the newest signed checkpoint note.
func (s *Server) tlogCheckpoint(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	cp, err := s.findCheckpoint(r, "", 0)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(cp.Note)
	return err
}

// tlogTile answers GET /tlog/tile/{path...}: a tile's hashes, 32 bytes each.
func (s *Server) tlogTile(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	ts, ok := s.cfg.Proofs.(proof.TileStore)
	if !ok {
		return notAvailable("this ledger keeps no tiles")
	}
	data, err := proof.ReadTile(r.Context(), ts, "tile/"+r.PathValue("path"))
	switch {
	case errors.Is(err, proof.ErrMalformed):
		return invalid("path", "want <level>/<index>[.p/<width>] of a hash tile (C2SP tlog-tiles; entry bundles are not served)")
	case errors.Is(err, proof.ErrTileNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Field: "path", Rule: "no such tile: tiles exist up to the newest checkpoint (GET /tlog/checkpoint)"}
	case err != nil:
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable") // a tile path's hashes never change
	_, err = w.Write(data)
	return err
}
