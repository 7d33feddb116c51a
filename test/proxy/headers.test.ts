import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { responseHeadersWithoutHopByHop, stripHopByHop, withoutCookies } from '../../src/proxy/headers.js';

describe('stripHopByHop (requests)', () => {
  it('removes every RFC 9110 §7.6.1 field and those the client named in Connection', () => {
    const headers: IncomingHttpHeaders = {
      connection: 'keep-alive, X-Secret, x-other',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic cHJveHk6cHc=',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'x-secret': 's',
      'x-other': 'o',
      'x-kept': 'k',
      host: 'acme.example',
    };
    stripHopByHop(headers);
    expect(headers).toEqual({ 'x-kept': 'k', host: 'acme.example' });
  });

  it('keeps Connection and Upgrade for a WebSocket handshake, but still drops what Connection names', () => {
    const headers: IncomingHttpHeaders = { connection: 'Upgrade, x-secret', upgrade: 'websocket', 'x-secret': 's', te: 'trailers', 'sec-websocket-key': 'k' };
    stripHopByHop(headers, true);
    expect(headers).toEqual({ connection: 'Upgrade, x-secret', upgrade: 'websocket', 'sec-websocket-key': 'k' });
  });

  it('tolerates an empty or odd Connection value', () => {
    const headers: IncomingHttpHeaders = { connection: ' , ,', 'x-kept': '1' };
    stripHopByHop(headers);
    expect(headers).toEqual({ 'x-kept': '1' });
  });
});

describe('responseHeadersWithoutHopByHop (backend responses)', () => {
  it('copies everything but hop-by-hop fields, so `Connection: close` of a backend never reaches the client', () => {
    const source: IncomingHttpHeaders = {
      connection: 'close, x-backend-internal',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'x-backend-internal': '1',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    };
    const out = responseHeadersWithoutHopByHop(source);
    expect(out).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
    expect(source.connection).toBe('close, x-backend-internal');
  });
});

describe('withoutCookies', () => {
  const own = new Set(['zonegate.sid', 'zonegate.login']);

  it('removes the gateway cookies however the client spaces them, keeps the rest in order', () => {
    expect(withoutCookies('a=1; zonegate.sid=s%3Ax;b=2;  zonegate.login = y ;c', own)).toBe('a=1; b=2; c');
  });

  it('removes every copy of a repeated own cookie (a second one could shadow the first at the backend)', () => {
    expect(withoutCookies('zonegate.sid=1; theme=dark; zonegate.sid=2', own)).toBe('theme=dark');
  });

  it('matches names exactly: look-alikes are the application\'s cookies', () => {
    expect(withoutCookies('xzonegate.sid=1; zonegate.sid2=2; ZONEGATE.SID=3', own)).toBe('xzonegate.sid=1; zonegate.sid2=2; ZONEGATE.SID=3');
  });

  it('is undefined when nothing is left, and passes headers through when there is nothing to remove', () => {
    expect(withoutCookies('zonegate.sid=1', own)).toBeUndefined();
    expect(withoutCookies(undefined, own)).toBeUndefined();
    expect(withoutCookies('a=1', new Set())).toBe('a=1');
  });
});
