package domainerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestWrapKeepsTheCause(t *testing.T) {
	cause := errors.New("no rows in result set")
	err := fmt.Errorf("load: %w", Wrap(NotFound, "no such resource", cause))
	if !Is(err, NotFound) || Is(err, Conflict) || !errors.Is(err, cause) {
		t.Fatalf("Is/errors.Is through the chain: %v", err)
	}
	if de, ok := As(err); !ok || de.Detail != "no such resource" {
		t.Fatalf("As: %+v %v", de, ok)
	}
}

func TestFromPostgres(t *testing.T) {
	for code, want := range map[string]Kind{"23505": Conflict, "23503": Conflict, "22P02": Invalid, "23514": Invalid, "40001": 0} {
		got := FromPostgres(code, nil)
		if (got == nil && want != 0) || (got != nil && got.Kind != want) {
			t.Errorf("FromPostgres(%s) = %v, want kind %d", code, got, want)
		}
	}
}
