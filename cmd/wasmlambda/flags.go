package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a duration as a Go duration ("1m30s", "250ms") or a
// number of seconds ("30", "0.5"), as AWS gives timeouts.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want a number of seconds or a duration such as 1m30s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// durationValue is a pflag.Value of parseDuration.
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil || *v.d == 0 {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v durationValue) Type() string { return "duration" }

// parseKeyValue splits "KEY=VALUE".
func parseKeyValue(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("%q: want KEY=VALUE", s)
	}
	return k, v, nil
}

// keyValues turns KEY=VALUE flags into a map; a later KEY wins.
func keyValues(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(list))
	for _, s := range list {
		k, v, err := parseKeyValue(s)
		if err != nil {
			return nil, fmt.Errorf("--%s %w", flag, err)
		}
		m[k] = v
	}
	return m, nil
}

// parseMount reads HOST_DIR:GUEST_PATH[:ro|:rw], as docker's -v: read-only
// unless :rw.
func parseMount(s string) (host, guest string, rw bool, err error) {
	spec := s
	switch {
	case strings.HasSuffix(spec, ":rw"):
		rw = true
		spec = strings.TrimSuffix(spec, ":rw")
	case strings.HasSuffix(spec, ":ro"):
		spec = strings.TrimSuffix(spec, ":ro")
	}
	i := strings.LastIndex(spec, ":/")
	if i <= 0 {
		return "", "", false, fmt.Errorf("--mount %q: want HOST_DIR:GUEST_PATH[:rw], such as ./data:/mnt/data", s)
	}
	return spec[:i], spec[i+1:], rw, nil
}
