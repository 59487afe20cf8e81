package s3_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/s3"
)

var updateGolden = flag.Bool("update-records", false, "rewrite the golden files in testdata/records")

// goldenTime is a time with more than milliseconds, which eventTime cuts.
var goldenTime = time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC)

// goldenRecords are changes and the records S3 writes for them, in
// testdata/records/NAME.json.
var goldenRecords = []struct {
	name   string
	change s3.Change
	region string
	rule   string
}{
	{"put", s3.Change{
		Event: s3.ObjectCreatedPut, Time: goldenTime, Bucket: "uploads", Key: "photos/Happy Face (1).jpg",
		Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e", Sequencer: "0062E99A88DC407460",
		Principal: "AWS:AIDAEXAMPLE", SourceIP: "198.51.100.7",
	}, "eu-west-1", "thumbnails"},
	{"put-empty-object", s3.Change{
		Event: s3.ObjectCreatedPut, Time: goldenTime, Bucket: "uploads", Key: "markers/_SUCCESS",
		Size: 0, ETag: "d41d8cd98f00b204e9800998ecf8427e", Sequencer: "0062E99A88DC407461",
		Principal: "AWS:AIDAEXAMPLE", SourceIP: "198.51.100.7",
	}, "eu-west-1", "markers"},
	{"multipart-versioned", s3.Change{
		Event: s3.ObjectCreatedCompleteMultipartUpload, Time: goldenTime, Bucket: "archive", Key: "logs/dt=2026-05-04/café & co+1.gz",
		Size: 26214400, ETag: "9b2cf535f27731c974343645a3985328-5", VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
		Sequencer: "0062E99A88DC407462", Principal: "AWS:AIDAEXAMPLE", SourceIP: "198.51.100.7",
	}, "us-east-1", "archive-logs"},
	{"copy", s3.Change{
		Event: "s3:" + s3.ObjectCreatedCopy, Time: goldenTime, Bucket: "uploads", Key: "a<b>.txt",
		Size: 7, ETag: "0123456789abcdef0123456789abcdef", Sequencer: "0062E99A88DC407463",
		Principal: "AWS:AIDAEXAMPLE", SourceIP: "198.51.100.7",
	}, "eu-west-1", "copies"},
	{"delete", s3.Change{
		Event: s3.ObjectRemovedDelete, Time: goldenTime, Bucket: "uploads", Key: "photos/Happy Face (1).jpg",
		Sequencer: "0062E99A88DC407464", Principal: "AWS:AIDAEXAMPLE", SourceIP: "198.51.100.7",
	}, "eu-west-1", "cleanup"},
	{"delete-marker", s3.Change{
		Event: s3.ObjectRemovedDeleteMarkerCreated, Time: goldenTime, Bucket: "archive", Key: "logs/old.gz",
		VersionID: "Ki8S7AWmi9FdELfg0bY2.c2KjSDhTI.k", Sequencer: "0062E99A88DC407465",
		Principal: "AWS:AIDAEXAMPLE", SourceIP: "198.51.100.7",
	}, "us-east-1", "archive-deletes"},
}

// TestRecordGolden checks records byte for byte against the golden files,
// which are S3's JSON: the fields in S3's order, size and eTag for created
// objects only, versionId only when there is one, and the key
// form-encoded.
func TestRecordGolden(t *testing.T) {
	t.Parallel()
	for _, g := range goldenRecords {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			var got bytes.Buffer
			require.NoError(t, json.Indent(&got, s3.Event(s3.Record(g.change, g.region, g.rule)), "", "  "))
			got.WriteByte('\n')
			path := filepath.Join("testdata", "records", g.name+".json")
			if *updateGolden {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), got.String())
		})
	}
}

// TestRecordMatchesAWSLambdaGoTestdata renders the change that
// aws-lambda-go's own S3 test event describes and compares the result
// key for key and value for value, except where that file is not what S3
// writes (each exception is said below).
func TestRecordMatchesAWSLambdaGoTestdata(t *testing.T) {
	t.Parallel()
	want := jsonLeaves(t, readLambdaGoTestdata(t, "s3-event.json"))
	c := s3.Change{
		Event: "ObjectCreated:Put", Time: time.Date(1970, 1, 1, 0, 0, 0, 123_000_000, time.UTC),
		Bucket: "sourcebucket", Key: "Happy Face.jpg", Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e",
		VersionID: "version", Sequencer: "Happy Sequencer", Principal: "EXAMPLE", SourceIP: "127.0.0.1",
	}
	got := jsonLeaves(t, s3.Event(s3.Record(c, "us-east-1", "testConfigRule")))
	require.Equal(t, keysOf(want), keysOf(got), "the same fields, no more, no fewer")

	for path, w := range want {
		g := got[path]
		switch path {
		case "Records.0.eventVersion":
			// The file has 2.0; S3 writes 2.1 for these events today.
			require.Equal(t, `"2.0"`, w)
			require.Equal(t, `"2.1"`, g)
		case "Records.0.s3.object.key":
			// The file writes the space %20; S3 form-encodes it as "+".
			// Both decode to the key.
			require.Equal(t, `"Happy+Face.jpg"`, g)
			require.Equal(t, decodeJSONKey(t, w), decodeJSONKey(t, g))
		case "Records.0.s3.bucket.arn":
			// The file's ARN names another bucket than its name does.
			require.Equal(t, `"arn:aws:s3:::sourcebucket"`, g)
		case "Records.0.responseElements.x-amz-request-id":
			// S3 takes these from its request; here they come from the change.
			require.Regexp(t, regexp.MustCompile(`^"[0-9A-F]{16}"$`), g)
		case "Records.0.responseElements.x-amz-id-2":
			require.Regexp(t, regexp.MustCompile(`^"[A-Za-z0-9+/]{64}"$`), g)
		default:
			require.Equal(t, w, g, path)
		}
	}

	// The file with aws-lambda-go's urlDecodedKey has one field more,
	// which S3 does not write and the record does not have.
	decoded := jsonLeaves(t, readLambdaGoTestdata(t, "s3-event-with-decoded.json"))
	require.Contains(t, decoded, "Records.0.s3.object.urlDecodedKey")
	require.NotContains(t, got, "Records.0.s3.object.urlDecodedKey")
	delete(decoded, "Records.0.s3.object.urlDecodedKey")
	require.Equal(t, keysOf(decoded), keysOf(got))
}

// TestRecordDecodesAsS3Event decodes records with aws-lambda-go's types, as
// a Go handler does.
func TestRecordDecodesAsS3Event(t *testing.T) {
	t.Parallel()
	for _, g := range goldenRecords {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			var ev events.S3Event
			require.NoError(t, json.Unmarshal(s3.Event(s3.Record(g.change, g.region, g.rule)), &ev))
			require.Len(t, ev.Records, 1)
			r := ev.Records[0]
			c := g.change
			require.Equal(t, "2.1", r.EventVersion)
			require.Equal(t, "aws:s3", r.EventSource)
			require.Equal(t, g.region, r.AWSRegion)
			require.Equal(t, c.Time.Truncate(time.Millisecond), r.EventTime)
			require.Equal(t, strings.TrimPrefix(c.Event, "s3:"), r.EventName)
			require.Equal(t, c.Principal, r.PrincipalID.PrincipalID)
			require.Equal(t, c.SourceIP, r.RequestParameters.SourceIPAddress)
			require.Len(t, r.ResponseElements, 2)
			require.Equal(t, "1.0", r.S3.SchemaVersion)
			require.Equal(t, g.rule, r.S3.ConfigurationID)
			require.Equal(t, c.Bucket, r.S3.Bucket.Name)
			require.Equal(t, "arn:aws:s3:::"+c.Bucket, r.S3.Bucket.Arn)
			require.Equal(t, c.Key, r.S3.Object.URLDecodedKey)
			require.Equal(t, s3.EncodeKey(c.Key), r.S3.Object.Key)
			require.Equal(t, c.Size, r.S3.Object.Size)
			require.Equal(t, c.ETag, r.S3.Object.ETag)
			require.Equal(t, c.VersionID, r.S3.Object.VersionID)
			require.Equal(t, c.Sequencer, r.S3.Object.Sequencer)
		})
	}
}

// TestRecordObjectFields checks which object fields a record has, by event:
// S3 writes size and eTag for a created object (a size of 0 too), neither
// for a removed one, and versionId only from a versioned bucket.
func TestRecordObjectFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		event   string
		version string
		want    []string
	}{
		{s3.ObjectCreatedPut, "", []string{"eTag", "key", "sequencer", "size"}},
		{s3.ObjectCreatedPost, "", []string{"eTag", "key", "sequencer", "size"}},
		{s3.ObjectCreatedCopy, "v1", []string{"eTag", "key", "sequencer", "size", "versionId"}},
		{"s3:" + s3.ObjectCreatedCompleteMultipartUpload, "", []string{"eTag", "key", "sequencer", "size"}},
		{s3.ObjectRemovedDelete, "", []string{"key", "sequencer"}},
		{s3.ObjectRemovedDelete, "v1", []string{"key", "sequencer", "versionId"}},
		{s3.ObjectRemovedDeleteMarkerCreated, "v2", []string{"key", "sequencer", "versionId"}},
	}
	for _, tc := range tests {
		t.Run(tc.event+"/"+tc.version, func(t *testing.T) {
			t.Parallel()
			c := s3.Change{Event: tc.event, Time: goldenTime, Bucket: "b", Key: "k", VersionID: tc.version, Sequencer: "01"}
			var rec struct {
				EventName string `json:"eventName"`
				S3        struct {
					Object map[string]json.RawMessage `json:"object"`
				} `json:"s3"`
			}
			require.NoError(t, json.Unmarshal(s3.Record(c, "r", "id"), &rec))
			require.Equal(t, strings.TrimPrefix(tc.event, "s3:"), rec.EventName)
			require.Equal(t, tc.want, keysOf(rec.S3.Object))
			if _, ok := rec.S3.Object["size"]; ok {
				require.Equal(t, "0", string(rec.S3.Object["size"]), "an empty object has size 0, not none")
			}
		})
	}
}

// TestRecordResponseElements checks that the response elements stand for
// the change: the same for the records of one change, whatever the rule,
// and different for another change.
func TestRecordResponseElements(t *testing.T) {
	t.Parallel()
	ids := func(c s3.Change, rule string) [2]string {
		var rec struct {
			ResponseElements map[string]string `json:"responseElements"`
		}
		require.NoError(t, json.Unmarshal(s3.Record(c, "eu-west-1", rule), &rec))
		return [2]string{rec.ResponseElements["x-amz-request-id"], rec.ResponseElements["x-amz-id-2"]}
	}
	c := goldenRecords[0].change
	require.Equal(t, ids(c, "a"), ids(c, "b"))
	d := c
	d.Sequencer = "0062E99A88DC407499"
	require.NotEqual(t, ids(c, "a")[0], ids(d, "a")[0])
	require.NotEqual(t, ids(c, "a")[1], ids(d, "a")[1])
}

func TestEventWrapsRecords(t *testing.T) {
	t.Parallel()
	require.JSONEq(t, `{"Records":[]}`, string(s3.Event()))
	a := s3.Record(goldenRecords[0].change, "eu-west-1", "a")
	b := s3.Record(goldenRecords[4].change, "eu-west-1", "b")
	var ev events.S3Event
	require.NoError(t, json.Unmarshal(s3.Event(a, b), &ev))
	require.Len(t, ev.Records, 2)
	require.Equal(t, "a", ev.Records[0].S3.ConfigurationID)
	require.Equal(t, "b", ev.Records[1].S3.ConfigurationID)
}

// readLambdaGoTestdata reads a file of aws-lambda-go's events/testdata.
func readLambdaGoTestdata(t *testing.T, name string) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	require.NoError(t, err)
	return b
}

// jsonLeaves maps each leaf of a JSON document, by its dotted path, to its
// compact JSON.
func jsonLeaves(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	require.NoError(t, d.Decode(&v))
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(joinPath(prefix, k), e)
			}
		case []any:
			for i, e := range x {
				walk(joinPath(prefix, fmt.Sprint(i)), e)
			}
		default:
			b, err := json.Marshal(x)
			require.NoError(t, err)
			out[prefix] = string(b)
		}
	}
	walk("", v)
	return out
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func decodeJSONKey(t *testing.T, s string) string {
	t.Helper()
	var enc string
	require.NoError(t, json.Unmarshal([]byte(s), &enc))
	key, err := s3.DecodeKey(enc)
	require.NoError(t, err)
	return key
}
