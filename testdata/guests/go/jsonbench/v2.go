//go:build goexperiment.jsonv2

package main

import (
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
)

func init() {
	// encoding/json/v2 with its own defaults (no HTML escaping; invalid
	// UTF-8 is an error), a jsontext.Value (a json.RawMessage) or a typed
	// event.
	ops["v2-raw"] = func(_ string, p []byte) ([]byte, error) {
		var raw jsontext.Value
		if err := jsonv2.Unmarshal(p, &raw); err != nil {
			return nil, err
		}
		return jsonv2.Marshal(raw)
	}
	ops["v2-typed"] = func(payload string, p []byte) ([]byte, error) {
		v := typed(payload)
		if err := jsonv2.Unmarshal(p, v); err != nil {
			return nil, err
		}
		return jsonv2.Marshal(v)
	}
	ops["v2-valid"] = func(_ string, p []byte) ([]byte, error) {
		if !jsontext.Value(p).IsValid() {
			return nil, errors.New("invalid")
		}
		return p, nil
	}
}
