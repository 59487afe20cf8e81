// Command sqsbatch is the Go test guest of the SQS event source mapping: it
// takes an SQS event and acts on its messages' bodies.
//
//	error          the invoke fails (errorType "errorString") if any body
//	               is "error"
//	sleep:MS       sleeps MS milliseconds before answering
//	fail           the message is named in batchItemFailures
//	respond:TEXT   the response is TEXT, byte for byte, instead of the
//	               batch response (for invalid responses)
//	dump           the invoke fails with the event itself as the message
//
// Any other body succeeds. The response is
// {"batchItemFailures":[{"itemIdentifier":ID},...]}, the list empty when no
// message failed.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sqsbatch.wasm ./testdata/guests/go/sqsbatch
package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlambda/lambda/guest"
)

type event struct {
	Records []struct {
		MessageID string `json:"messageId"`
		Body      string `json:"body"`
	} `json:"Records"`
}

type failure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

type handler struct{}

func (handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	failures := []failure{}
	var raw []byte
	for _, r := range ev.Records {
		switch {
		case r.Body == "error":
			return nil, errors.New("a message said error")
		case r.Body == "dump":
			return nil, errors.New(string(payload))
		case r.Body == "fail":
			failures = append(failures, failure{r.MessageID})
		case strings.HasPrefix(r.Body, "sleep:"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(r.Body, "sleep:"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case strings.HasPrefix(r.Body, "respond:"):
			raw = []byte(strings.TrimPrefix(r.Body, "respond:"))
		}
	}
	if raw != nil {
		return raw, nil
	}
	return json.Marshal(map[string]any{"batchItemFailures": failures})
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler{}) }

func main() {}
