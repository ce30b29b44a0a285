// Apollo Client's normalised cache (InMemoryCache) against a real gateway over HTTP.
//
// A hospital clinician reads Lis Andersen's plan (her journal notes are blocked from the
// hospital), then breaks the glass, then reads the first query again from the cache only.
// The override is for that one request: the cached ordinary read, and a query watching
// it, must still show no notes. Ids are per view, so the cache never merges the two.
//
// Run by tests/clients/test_apollo_cache.py with GATEWAY_URL, TOKEN, CPR and REASON set.
// Prints a JSON summary on stdout; exits 1 when the cache merged the views, 2 on a timeout.

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

const { GATEWAY_URL, TOKEN, CPR, REASON } = process.env;
const REQUEST_TIMEOUT_MS = 10_000;

// Bounded, whatever happens: a hung request or a promise that never settles ends the run.
setTimeout(() => {
  console.error("cache-views: timed out");
  process.exit(2);
}, 30_000).unref();

// The probe's query, as a version 1 client writes it (no Plan.id), and a version 2 one.
const QUERIES = {
  v1: gql`
    query Plan($cpr: String!, $reason: String) {
      plan(cpr: $cpr, emergencyReason: $reason) {
        restricted
        packages { id kind journalNotes { source sourceId title } }
      }
    }
  `,
  v2: gql`
    query Plan($cpr: String!, $reason: String) {
      plan(cpr: $cpr, emergencyReason: $reason) {
        id
        restricted
        packages { id kind journalNotes { source sourceId title } }
      }
    }
  `,
};

function client() {
  const link = new HttpLink({
    uri: `${GATEWAY_URL}/graphql`,
    headers: { Authorization: `Bearer ${TOKEN}` },
    fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
  });
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

function notes(data) {
  return data.plan.packages.flatMap((p) => p.journalNotes.map((n) => n.sourceId));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(name, query) {
  const apollo = client();
  const ordinaryVars = { cpr: CPR };
  const ordinary = await apollo.query({ query, variables: ordinaryVars });
  const watched = [];
  const watch = apollo
    .watchQuery({ query, variables: ordinaryVars, fetchPolicy: "cache-first" })
    .subscribe((result) => {
      if (result.data?.plan) watched.push(notes(result.data));
    });
  const glass = await apollo.query({ query, variables: { cpr: CPR, reason: REASON } });
  await sleep(100); // let the watched query see any cache update
  const cached = await apollo.query({ query, variables: ordinaryVars, fetchPolicy: "cache-only" });
  watch.unsubscribe();
  return {
    name,
    ordinary: notes(ordinary.data),
    glass: notes(glass.data),
    cached: cached.data?.plan ? notes(cached.data) : null,
    watched,
    packageIds: {
      ordinary: ordinary.data.plan.packages.map((p) => p.id),
      glass: glass.data.plan.packages.map((p) => p.id),
    },
    cacheKeys: Object.keys(apollo.cache.extract()).sort(),
  };
}

const failures = [];
const rounds = [];
for (const [name, query] of Object.entries(QUERIES)) {
  let round;
  try {
    round = await run(name, query);
  } catch (error) {
    failures.push(`${name}: ${error}`);
    continue;
  }
  rounds.push(round);
  if (round.ordinary.length !== 0) failures.push(`${name}: the ordinary read showed notes`);
  if (round.glass.length === 0) failures.push(`${name}: breaking the glass showed no notes`);
  if (round.cached === null || round.cached.length !== 0) {
    failures.push(`${name}: the cached ordinary read shows ${JSON.stringify(round.cached)}`);
  }
  if (round.watched.some((seen) => seen.length !== 0)) {
    failures.push(`${name}: the watched ordinary query showed ${JSON.stringify(round.watched)}`);
  }
}

console.log(JSON.stringify({ rounds, failures }));
process.exit(failures.length === 0 ? 0 : 1);
