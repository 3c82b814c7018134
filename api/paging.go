// Keyset pages: one helper for every listing, and their opaque cursors.

package api

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/keyset"
)

// page is one keyset page of a listing: its items and, when more follow, the
// cursor that asks for the next page.
type page[V any] struct {
	Items      []V     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// pageOf makes the page from rows fetched with limit+1: a row beyond limit
// means more follow, and the cursor names the last row served.
func pageOf[R, V any](rows []R, limit int, cursor func(R) string, view func(R) V) page[V] {
	p := page[V]{Items: make([]V, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		c := cursor(rows[len(rows)-1])
		p.NextCursor = &c
	}
	for _, r := range rows {
		p.Items = append(p.Items, view(r))
	}
	return p
}

// limitParam reads a listing's page size: 100 unless given, at most 500.
func limitParam(v string) (int, error) {
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, invalid("limit", "limit must be an integer from 1 to 500")
	}
	return n, nil
}

var errCursor = invalid("cursor", "cursor is not one this API returned")

// timePage reads the limit and the time-ordered cursor of a newest-first
// listing (nil before: the first page).
func timePage(q url.Values) (limit int, before *keyset.Key, err error) {
	if limit, err = limitParam(q.Get("limit")); err != nil {
		return 0, nil, err
	}
	if v := q.Get("cursor"); v != "" {
		ts, id, err := decodeTimeCursor(v)
		if err != nil {
			return 0, nil, errCursor
		}
		before = &keyset.Key{At: ts, ID: id}
	}
	return limit, before, nil
}

func encodeCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func decodeCursor(s string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.FromBytes(b)
}

// Time-ordered keyset cursors: (created_at, id) of the last row served.
func encodeTimeCursor(ts time.Time, id uuid.UUID) string {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, uint64(ts.UnixMicro()))
	b = append(b, id[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func timeCursor(k keyset.Key) string { return encodeTimeCursor(k.At, k.ID) }

func decodeTimeCursor(s string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return time.Time{}, uuid.Nil, errors.New("bad cursor")
	}
	id, err := uuid.FromBytes(b[8:])
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))), id, err
}
