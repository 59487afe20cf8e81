package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmlambda/lambda/lambdatest"
)

func newGenerateEventCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate-event KIND",
		Short: "Print a sample event: s3 put|delete, sqs receive-message, schedule, http",
		Long: `Generate-event prints a sample event in the JSON AWS sends a function, the
kinds sam local generate-event offers for wasmlambda's triggers. Flags
override the sample's fields. The samples are the test kit's (lambdatest),
rendered as the triggers render them: an S3 event is what trigger/s3 sends,
an SQS event what trigger/sqs sends, byte for byte.`,
		Example: `  wasmlambda generate-event s3 put --bucket photos --key "cats/tom.jpg" > put.json
  wasmlambda generate-event sqs receive-message --body '{"id":"o-1"}' --body '{"id":"o-2"}'
  wasmlambda generate-event http --method POST --path /orders --body '{"id":"o-1"}' | wasmlambda invoke ./api -e -`,
	}
	groupCommand(cmd, "s3 put|delete, sqs receive-message, schedule or http")
	s3Cmd := &cobra.Command{Use: "s3", Short: "S3 event notifications: put, delete"}
	groupCommand(s3Cmd, "put or delete")
	s3Cmd.AddCommand(newS3EventCommand("put", "ObjectCreated:Put"), newS3EventCommand("delete", "ObjectRemoved:Delete"))
	sqsCmd := &cobra.Command{Use: "sqs", Short: "SQS events: receive-message"}
	groupCommand(sqsCmd, "receive-message")
	sqsCmd.AddCommand(newSQSEventCommand())
	cmd.AddCommand(s3Cmd, sqsCmd, newScheduleEventCommand(), newHTTPEventCommand())
	return cmd
}

// groupCommand makes cmd, a command of subcommands, fail when it is given
// none, or one it does not have, rather than print its help and succeed.
func groupCommand(cmd *cobra.Command, kinds string) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%s needs a kind: %s (see --help)", cmd.CommandPath(), kinds)
		}
		return fmt.Errorf("unknown command %q for %q: want %s", args[0], cmd.CommandPath(), kinds)
	}
}

// eventOutput is the flag of every sample: compact or indented.
type eventOutput struct{ compact bool }

func (o *eventOutput) flags(f *pflag.FlagSet) {
	f.BoolVar(&o.compact, "compact", false, "print the JSON on one line, as it is sent, rather than indented")
}

func (o *eventOutput) print(cmd *cobra.Command, event []byte) error {
	if !o.compact {
		var b bytes.Buffer
		if err := json.Indent(&b, event, "", "  "); err != nil {
			return err
		}
		event = b.Bytes()
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", event)
	return err
}

// timeFlag is a time.Time flag in RFC 3339.
type timeFlag struct{ t *time.Time }

func (v timeFlag) String() string {
	if v.t == nil || v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339Nano)
}

func (v timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%q: want a time such as 2026-05-04T10:00:00Z", s)
	}
	*v.t = t
	return nil
}

func (v timeFlag) Type() string { return "time" }

func newS3EventCommand(name, event string) *cobra.Command {
	var (
		o   lambdatest.S3EventOptions
		out eventOutput
	)
	cmd := &cobra.Command{
		Use:   name,
		Short: fmt.Sprintf("An S3 event notification of %s", event),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "put" {
				return out.print(cmd, lambdatest.S3PutEvent(o))
			}
			return out.print(cmd, lambdatest.S3DeleteEvent(o))
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&o.Bucket, "bucket", "", "bucket name (default example-bucket)")
	f.StringVar(&o.Key, "key", "", "object key, as stored; the event holds it URL-encoded, as S3 writes it (default test/key)")
	if name == "put" {
		f.Int64Var(&o.Size, "size", 0, "object size in bytes (default 1024)")
		f.StringVar(&o.ETag, "etag", "", "object ETag (default 0123456789abcdef0123456789abcdef)")
	}
	f.StringVar(&o.EventName, "event-name", "", fmt.Sprintf("event name (default %s)", event))
	f.StringVar(&o.VersionID, "version-id", "", "object version, from a versioned bucket (default none)")
	f.StringVar(&o.Sequencer, "sequencer", "", "sequencer (default 0A1B2C3D4E5F678901)")
	f.StringVar(&o.ConfigurationID, "configuration-id", "", "notification rule ID (default testConfigRule)")
	f.Var(timeFlag{&o.Time}, "time", "event time, RFC 3339 (default 1970-01-01T00:00:00Z)")
	f.StringVar(&o.Principal, "principal", "", "requester's principal ID (default wasmlambda)")
	f.StringVar(&o.SourceIP, "source-ip", "", "requester's IP address (default 127.0.0.1)")
	f.StringVar(&o.Region, "region", "", "bucket region (default us-east-1)")
	out.flags(f)
	return cmd
}

func newSQSEventCommand() *cobra.Command {
	var (
		o      lambdatest.SQSEventOptions
		bodies []string
		out    eventOutput
	)
	cmd := &cobra.Command{
		Use:   "receive-message",
		Short: "An SQS event, as the event source mapping sends a batch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, b := range bodies {
				o.Messages = append(o.Messages, lambdatest.SQSMessage{Body: b})
			}
			return out.print(cmd, lambdatest.SQSEvent(o))
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringArrayVar(&bodies, "body", nil, "a message body, one record each (repeatable; default one message, \"Hello from SQS!\")")
	f.StringVar(&o.QueueName, "queue", "", "queue name (default MyQueue)")
	f.StringVar(&o.Region, "region", "", "queue region (default us-east-1)")
	f.StringVar(&o.AccountID, "account", "", "queue account (default 000000000000)")
	out.flags(f)
	return cmd
}

func newScheduleEventCommand() *cobra.Command {
	var (
		o   lambdatest.ScheduledEventOptions
		out eventOutput
	)
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "An EventBridge Scheduled Event, as a schedule sends it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return out.print(cmd, lambdatest.ScheduledEvent(o))
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&o.Rule, "rule", "", "rule name (default ExampleRule)")
	f.Var(timeFlag{&o.Time}, "time", "firing time, RFC 3339 (default 1970-01-01T00:00:00Z)")
	f.StringVar(&o.ID, "id", "", "event ID (default cdc73f9d-aea9-11e3-9d5a-835b769c0d9c)")
	f.StringVar(&o.Region, "region", "", "region (default us-east-1)")
	f.StringVar(&o.AccountID, "account", "", "account (default 000000000000)")
	out.flags(f)
	return cmd
}

func newHTTPEventCommand() *cobra.Command {
	var (
		o           lambdatest.HTTPEventOptions
		functionURL bool
		headers     []string
		pathParams  []string
		stageVars   []string
		authorizer  string
		out         eventOutput
	)
	cmd := &cobra.Command{
		Use:   "http",
		Short: "An HTTP request, as API Gateway (HTTP API, payload 2.0) or a function URL sends it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			o.Headers = map[string]string{}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("--header %q: want NAME:VALUE", h)
				}
				o.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			if o.PathParameters, err = keyValues("path-parameter", pathParams); err != nil {
				return err
			}
			if o.StageVariables, err = keyValues("stage-variable", stageVars); err != nil {
				return err
			}
			if authorizer != "" {
				if err := checkJSON([]byte(authorizer)); err != nil {
					return fmt.Errorf("--authorizer: %w", err)
				}
				o.Authorizer = json.RawMessage(authorizer)
			}
			if functionURL {
				return out.print(cmd, lambdatest.FunctionURLEvent(o))
			}
			return out.print(cmd, lambdatest.APIGatewayV2Event(o))
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.BoolVar(&functionURL, "function-url", false, "a function URL's request rather than API Gateway's")
	f.StringVar(&o.Method, "method", "", "HTTP method (default GET)")
	f.StringVar(&o.Path, "path", "", "path, without the query (default /)")
	f.StringVar(&o.Query, "query", "", "raw query string, without ?, such as a=1&b=2")
	f.StringArrayVar(&headers, "header", nil, "a header, `NAME:VALUE` (repeatable)")
	f.StringArrayVar(&o.Cookies, "cookie", nil, "a cookie, `NAME=VALUE` (repeatable)")
	f.StringVar(&o.Body, "body", "", "request body")
	f.BoolVar(&o.IsBase64Encoded, "base64", false, "the body is base64, as AWS sends a binary body")
	f.StringVar(&o.SourceIP, "source-ip", "", "client address (default 192.0.2.1)")
	f.StringVar(&o.UserAgent, "user-agent", "", "client user agent (default curl/7.58.0)")
	f.StringVar(&o.RouteKey, "route-key", "", "API Gateway route, such as \"GET /orders/{id}\" (default $default)")
	f.StringVar(&o.Stage, "stage", "", "API Gateway stage (default $default)")
	f.StringArrayVar(&pathParams, "path-parameter", nil, "an API Gateway path parameter, `NAME=VALUE` (repeatable)")
	f.StringArrayVar(&stageVars, "stage-variable", nil, "an API Gateway stage variable, `NAME=VALUE` (repeatable)")
	f.StringVar(&authorizer, "authorizer", "", "the request context's authorizer, as JSON, such as {\"jwt\":{\"claims\":{\"sub\":\"alice\"},\"scopes\":null}}")
	f.Var(timeFlag{&o.Time}, "time", "request time, RFC 3339 (default 2020-03-12T19:03:58Z)")
	f.StringVar(&o.RequestID, "request-id", "", "request context's requestId")
	f.StringVar(&o.APIID, "api-id", "", "API ID, or the function URL's ID, in the domain name")
	f.StringVar(&o.Region, "region", "", "region (default us-east-1)")
	f.StringVar(&o.AccountID, "account", "", "account (default 000000000000)")
	out.flags(f)
	return cmd
}
