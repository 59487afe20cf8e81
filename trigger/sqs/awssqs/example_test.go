package awssqs_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/sqs"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs/awssqs"
)

// A queue on an SQS-protocol server at a given endpoint, used as a
// function's dead-letter sink. Against Amazon SQS, build the client from
// config.LoadDefaultConfig instead and leave BaseEndpoint unset.
func Example() {
	ctx := context.Background()
	client := sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:4566"),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	q, err := awssqs.New(ctx, client, "http://127.0.0.1:4566/000000000000/my-dlq")
	if err != nil {
		fmt.Println("no server:", err != nil)
		return
	}
	_ = lambda.AsyncConfig{DeadLetter: &lambda.QueueSink{Queue: q}}
}
