package config

import (
	"fmt"
	"strings"
	"time"
)

// Problems collects what is wrong with a config, so that one message names
// every mistake, each after the file's path. setup adds to the list config
// started.
type Problems struct {
	Path string
	list []string
}

// Errorf adds a problem; it should start with the key path it is about.
func (p *Problems) Errorf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// Len counts the problems so far: a caller compares it before and after a
// step to tell whether the step found any.
func (p *Problems) Len() int { return len(p.list) }

// Err is every problem in one error, or nil.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", p.Path, strings.Join(p.list, "\n  "+p.Path+": "))
}

// Duration parses a positive duration at key; def when unset or wrong.
func (p *Problems) Duration(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.Errorf("%s = %q: want a positive duration such as \"1500ms\" or \"10s\"", key, s)
		return def
	}
	return d
}

// NonNegative is a duration where "0s" is meaningful (no grace period).
func (p *Problems) NonNegative(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.Errorf("%s = %q: want a duration such as \"24h\" (or \"0s\" for none)", key, s)
		return def
	}
	return d
}

// Positive is a count at key; def when unset (0) or negative.
func (p *Problems) Positive(key string, n, def int64) int64 {
	if n == 0 {
		return def
	}
	if n < 0 {
		p.Errorf("%s = %d: must be positive", key, n)
		return def
	}
	return n
}
