// The tenant is the first label of the host, as TENANT_HOST_PATTERN derives it in the demo.
document.getElementById('tenant').textContent = location.hostname.split('.')[0];

// An XHR gets 401 rather than a login redirect when there is no session (SAP's rule for API clients).
fetch('/user-api/currentUser', { headers: { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' } })
  .then(async (res) => {
    const line = document.getElementById('user');
    if (res.status === 401) {
      line.innerHTML = 'Not logged in. <a href="/api/whoami">Log in</a> (demo users: admin / demo-admin-pass, viewer / demo-viewer-pass).';
      return;
    }
    const user = await res.json();
    line.textContent = `Logged in as ${user.displayName} (${user.email}); scopes: ${user.scopes.join(', ')}. `;
    const logout = document.createElement('a');
    logout.href = '/logout';
    logout.textContent = 'Log out';
    line.append(logout);
  })
  .catch(() => {
    document.getElementById('user').textContent = 'The session check failed.';
  });
