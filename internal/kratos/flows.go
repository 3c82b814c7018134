package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Self-service flows as the portal renders them: read from Kratos' public API
// with the browser's cookies, decoded into a neutral shape (the generated
// client's one-of node attributes are awkward to render).

// ErrFlowGone means the flow cannot be shown any more (expired, unknown, its
// CSRF cookie lost, or a settings flow without the session it belongs to):
// the page starts a new one (Kratos sends a browser without a session to
// sign in first).
var ErrFlowGone = errors.New("kratos: self-service flow expired or unknown")

// FlowKinds are the self-service flows the portal renders.
var FlowKinds = []string{"login", "registration", "recovery", "verification", "settings"}

// UIText is a Kratos message.
type UIText struct {
	ID      int64          `json:"id"`
	Text    string         `json:"text"`
	Type    string         `json:"type"` // info, error, success
	Context map[string]any `json:"context,omitempty"`
}

// UINodeAttributes is the union of Kratos' node attributes (input, text,
// anchor, image); NodeType tells which apply.
type UINodeAttributes struct {
	NodeType     string  `json:"node_type"`
	Name         string  `json:"name"`
	Type         string  `json:"type"`
	Value        any     `json:"value"`
	Required     bool    `json:"required"`
	Disabled     bool    `json:"disabled"`
	Autocomplete string  `json:"autocomplete"`
	Pattern      string  `json:"pattern"`
	MaxLength    int     `json:"maxlength"`
	ID           string  `json:"id"`
	Text         *UIText `json:"text"`
	Href         string  `json:"href"`
	Title        *UIText `json:"title"`
	Src          string  `json:"src"`
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	// WebAuthn: the button's trigger (a function webauthn.js defines on
	// window, called with no argument it reads the button's value) and the
	// script node's subresource integrity.
	OnClickTrigger string `json:"onclickTrigger"`
	Integrity      string `json:"integrity"`
	CrossOrigin    string `json:"crossorigin"`
	ReferrerPolicy string `json:"referrerpolicy"`
}

// UINode is one form element or text of a flow.
type UINode struct {
	Type       string           `json:"type"` // input, text, a, img, script, div
	Group      string           `json:"group"`
	Attributes UINodeAttributes `json:"attributes"`
	Messages   []UIText         `json:"messages"`
	Meta       struct {
		Label *UIText `json:"label"`
	} `json:"meta"`
}

// UI is a flow's form.
type UI struct {
	Action   string   `json:"action"`
	Method   string   `json:"method"`
	Messages []UIText `json:"messages"`
	Nodes    []UINode `json:"nodes"`
}

// Flow is a self-service flow (login, recovery, ...).
type Flow struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // browser or api
	ExpiresAt time.Time `json:"expires_at"`
	ReturnTo  string    `json:"return_to"`
	State     any       `json:"state"`
	UI        UI        `json:"ui"`
	// RequestedAAL is a login flow's level: aal2 asks for the second factor.
	RequestedAAL string `json:"requested_aal,omitempty"`
}

// GetFlow reads a flow of kind (one of FlowKinds) as the browser whose
// Cookie header is cookie. A flow that expired, is unknown or fails Kratos'
// CSRF check returns ErrFlowGone.
func (c *Client) GetFlow(ctx context.Context, kind, id, cookie string) (Flow, error) {
	var f Flow
	status, err := c.publicGet(ctx, "/self-service/"+kind+"/flows?id="+url.QueryEscape(id), cookie, &f)
	switch {
	case status == http.StatusGone || status == http.StatusNotFound || status == http.StatusForbidden ||
		status == http.StatusUnauthorized ||
		(status == http.StatusBadRequest && err != nil):
		return Flow{}, fmt.Errorf("%w (%d)", ErrFlowGone, status)
	case err != nil:
		return Flow{}, err
	}
	return f, nil
}

// FlowError is a self-service error Kratos sends the browser to /auth/error with.
type FlowError struct {
	ID    string `json:"id"`
	Error struct {
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"error"`
}

// GetFlowError reads the error with this id; an unknown one is ErrFlowGone.
func (c *Client) GetFlowError(ctx context.Context, id string) (FlowError, error) {
	var e FlowError
	status, err := c.publicGet(ctx, "/self-service/errors?id="+url.QueryEscape(id), "", &e)
	if status == http.StatusNotFound || status == http.StatusBadRequest {
		return FlowError{}, ErrFlowGone
	}
	return e, err
}

// BrowserLogoutURL creates a logout flow for the browser's session and
// returns the URL that ends it. A browser without a session gets
// ErrUnauthenticated.
func (c *Client) BrowserLogoutURL(ctx context.Context, cookie, returnTo string) (string, error) {
	path := "/self-service/logout/browser"
	if returnTo != "" {
		path += "?return_to=" + url.QueryEscape(returnTo)
	}
	var out struct {
		LogoutURL string `json:"logout_url"`
	}
	status, err := c.publicGet(ctx, path, cookie, &out)
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return "", ErrUnauthenticated
	}
	if err != nil {
		return "", err
	}
	// The session ends at Kratos: forget it here at once too.
	c.cache.Remove(cacheKey(cookie, ""))
	return out.LogoutURL, nil
}

// publicGet reads JSON from Kratos' public API; a non-2xx answer returns its
// status and an error.
func (c *Client) publicGet(ctx context.Context, path, cookie string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.publicURL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("kratos %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("kratos %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("kratos %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return resp.StatusCode, fmt.Errorf("kratos %s: decoding: %w", path, err)
	}
	return resp.StatusCode, nil
}
