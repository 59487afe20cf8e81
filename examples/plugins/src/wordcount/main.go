//go:build wasip1

// Command wordcount is a well-behaved plugin that needs nothing of the
// host: it counts the words of a text. Its plugin.json declares no
// capability.
package main

import (
	"context"
	"strings"

	"github.com/wasmlambda/lambda/guest"
)

type request struct {
	Text string `json:"text"`
}

type response struct {
	Words int `json:"words"`
}

func handler(_ context.Context, req request) (response, error) {
	return response{Words: len(strings.Fields(req.Text))}, nil
}

func init() { guest.Start(handler) }

func main() {}
