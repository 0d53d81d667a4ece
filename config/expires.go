package config

import (
	"fmt"
	"time"

	"github.com/BurntSushi/toml"
)

// The TOML decoder reads a datetime without an offset (a local datetime,
// date or time) in the decoding process's zone, marking it with one of
// these zone names, which decoding into a time.Time field loses: the same
// signed policy would expire hours apart on nodes in different zones.
// TestLocalTOMLZones pins the names, so a decoder that stops using them
// fails a test rather than letting local datetimes through.
var localTOMLZones = map[string]bool{"datetime-local": true, "date-local": true, "time-local": true}

// checkExpiresOffset refuses a policy artifact (data, named what) whose
// expires is written without an offset. data has decoded once already.
func checkExpiresOffset(what, data string) error {
	var raw struct {
		Expires any `toml:"expires"`
	}
	if _, err := toml.Decode(data, &raw); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	t, ok := raw.Expires.(time.Time)
	if !ok || !localTOMLZones[t.Location().String()] {
		return nil
	}
	return fmt.Errorf("%s: expires has no offset, so each node would read it in its own time zone and nodes would disagree on when the policy expires: write it with an offset, e.g. expires = %s (signgate policy build does)",
		what, time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC).Format(time.RFC3339))
}
