package portal

import (
	"errors"
	"net/http"

	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/portal/views"
)

// ssoRefusedPage shows why a first single sign-on created no account: the
// registration flow's messages (the flow's and its nodes'), never its form.
func (p *Portal) ssoRefusedPage(w http.ResponseWriter, r *http.Request, pg views.Page, id string) error {
	f, err := p.Kratos.GetFlow(r.Context(), "registration", id, r.Header.Get("Cookie"))
	if errors.Is(err, kratos.ErrFlowGone) {
		return render(w, r, views.RegistrationClosed(pg))
	}
	if err != nil {
		return err
	}
	msgs := append([]kratos.UIText{}, f.UI.Messages...)
	for _, n := range f.UI.Nodes {
		msgs = append(msgs, n.Messages...)
	}
	w.Header().Set("Cache-Control", "no-store")
	return render(w, r, views.SSORefused(pg, msgs))
}
