package e2e

import (
	"go.temporal.io/api/workflowservice/v1"
)

func listReq(q string) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: 10}
}
