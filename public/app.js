// The tenant is the first label of the host, as TENANT_HOST_PATTERN derives it in the demo.
document.getElementById('tenant').textContent = location.hostname.split('.')[0];
