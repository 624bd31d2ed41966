// Command hello is a minimal Lambda function for the devstack tests: it
// answers {"hello": <name>, "region": <AWS_REGION>}.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Name string `json:"name"`
}

type response struct {
	Hello  string `json:"hello"`
	Region string `json:"region"`
}

func handler(ctx context.Context, r request) (response, error) {
	if r.Name == "" {
		return response{}, errors.New("name is empty")
	}
	return response{Hello: r.Name, Region: os.Getenv("AWS_REGION")}, nil
}

func main() { lambda.Start(handler) }
