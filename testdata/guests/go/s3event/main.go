// Command s3event is the Go test guest of the S3 trigger: it takes an S3
// event notification and answers with what its first record says, or
// fails as the object's key asks, for tests of delivery under failures.
//
// The answer is {"bucket": NAME, "key": KEY, "event": EVENT_NAME,
// "configurationId": ID, "sequencer": SEQ, "records": N}, where KEY is the
// record's key decoded (url.QueryUnescape). The decoded key picks a
// failure:
//
//	contains "fail"   every attempt fails: errorType "errorString"
//	contains "flaky"  the first attempt of each request ID fails; the count
//	                  lives in the sandbox, so run it with MaxConcurrency 1
//	contains "slow"   sleeps 300 ms before answering
//
// With S3EVENT_MOUNT set to a guest path where the bucket is mounted, it
// also reads the object there, and says how many bytes in "read".
//
// An event with no record fails.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o s3event.wasm ./testdata/guests/go/s3event
package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wasmlambda/lambda/guest"
)

// event is the part of an S3 event notification the guest reads.
type event struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			ConfigurationID string `json:"configurationId"`
			Bucket          struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

type answer struct {
	Bucket          string `json:"bucket"`
	Key             string `json:"key"`
	Event           string `json:"event"`
	ConfigurationID string `json:"configurationId"`
	Sequencer       string `json:"sequencer"`
	Records         int    `json:"records"`
	Read            int    `json:"read,omitempty"`
}

// attempts counts the attempts of "flaky" keys by request ID.
var attempts = map[string]int{}

func handler(ctx context.Context, ev event) (answer, error) {
	if len(ev.Records) == 0 {
		return answer{}, errors.New("s3event: no record")
	}
	r := ev.Records[0]
	key, err := url.QueryUnescape(r.S3.Object.Key)
	if err != nil {
		return answer{}, fmt.Errorf("s3event: key %q: %v", r.S3.Object.Key, err)
	}
	switch {
	case strings.Contains(key, "fail"):
		return answer{}, fmt.Errorf("s3event: failing %s", key)
	case strings.Contains(key, "flaky"):
		lc, _ := lambdacontext.FromContext(ctx)
		attempts[lc.AwsRequestID]++
		if n := attempts[lc.AwsRequestID]; n == 1 {
			return answer{}, fmt.Errorf("s3event: attempt %d on %s failed", n, key)
		}
	case strings.Contains(key, "slow"):
		time.Sleep(300 * time.Millisecond)
	}
	a := answer{
		Bucket: r.S3.Bucket.Name, Key: key, Event: r.EventName,
		ConfigurationID: r.S3.ConfigurationID, Sequencer: r.S3.Object.Sequencer, Records: len(ev.Records),
	}
	if mount := os.Getenv("S3EVENT_MOUNT"); mount != "" {
		data, err := os.ReadFile(path.Join(mount, key))
		if err != nil {
			return answer{}, fmt.Errorf("s3event: %v", err)
		}
		a.Read = len(data)
	}
	return a, nil
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
