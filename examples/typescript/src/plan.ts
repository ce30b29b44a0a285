// A typed Min Plan client: Apollo Client reads a plan with the types GraphQL Code Generator
// made from schema/minplan.graphql and examples/plan.graphql (`npm run codegen`).
//
//   GATEWAY_URL=http://127.0.0.1:8000 TOKEN=$(../../.venv/bin/minplan token --role citizen \
//     --cpr 0101521234) npm test
//
// Three things a front end needs with this gateway, each shown below:
// - `possibleTypes` (from `minplan schema --possible-types`), or Apollo Client cannot match
//   `fragment Item on Sourced` when it reads from its cache and drops `source`/`sourceId`;
// - `errorPolicy: "all"`: a plan with one source down comes with a SOURCE_UNAVAILABLE error
//   beside its data, and the default policy ("none") throws that usable plan away;
// - `sources`: which sources answered, so the page can say what is missing.
//
// Prints the plan, then a JSON summary as its last line (tests/clients/test_examples.py
// reads it). Exits 1 when a check fails, 2 on a timeout.

import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache } from "@apollo/client";

import { ExamplePlanDocument, type ExamplePlanQuery } from "./gql/graphql.js";
import possibleTypes from "./possible-types.json" with { type: "json" };

type Plan = ExamplePlanQuery["plan"];
type CarePackage = Plan["packages"][number];
type SourceStatus = Plan["sources"][number];

const GATEWAY_URL = process.env.GATEWAY_URL ?? "http://127.0.0.1:8000";
const TOKEN = process.env.TOKEN;
const CPR = process.env.CPR || null; // unset: the citizen's own plan
const REQUEST_TIMEOUT_MS = 10_000;

setTimeout(() => {
  console.error("plan: timed out");
  process.exit(2);
}, 30_000).unref();

function client(withPossibleTypes: boolean): ApolloClient {
  const link = new HttpLink({
    uri: `${GATEWAY_URL}/graphql`,
    headers: { Authorization: `Bearer ${TOKEN}` },
    fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
  });
  const cache = withPossibleTypes ? new InMemoryCache({ possibleTypes }) : new InMemoryCache();
  return new ApolloClient({ link, cache });
}

/** One line per package: what a plan page would show first. */
function describe(pkg: CarePackage): string {
  const triage = pkg.triage ? `triage ${pkg.triage.level}` : "no triage";
  const next = pkg.appointments.find((a) => a.status === "BOOKED");
  const when = next?.start ? `, next ${next.start.slice(0, 10)} (${next.actor ?? "?"})` : "";
  return `${pkg.kind}: ${triage}, ${pkg.appointments.length} appointments${when}, ${pkg.goals.length} goals`;
}

/** The sources that did not answer: their sections are empty, not proof of nothing. */
function missing(sources: SourceStatus[]): string[] {
  return sources.filter((s) => !s.ok && !s.stale).map((s) => s.name);
}

function codes(error: unknown): string[] {
  if (!CombinedGraphQLErrors.is(error)) return error ? [`(${String(error)})`] : [];
  return error.errors.map((e) => String(e.extensions?.code ?? "?"));
}

async function main(): Promise<number> {
  if (!TOKEN) {
    console.error("plan: set TOKEN (minplan token --help) and GATEWAY_URL");
    return 1;
  }
  const variables = { cpr: CPR };
  const failures: string[] = [];

  // The recommended way: possibleTypes, errorPolicy "all".
  const apollo = client(true);
  const { data, error } = await apollo.query({
    query: ExamplePlanDocument,
    variables,
    errorPolicy: "all",
    fetchPolicy: "network-only",
  });
  if (!data?.plan) {
    console.error("plan: no plan", error);
    return 1;
  }
  const plan: Plan = data.plan;
  const down = missing(plan.sources);
  console.log(`Plan ${plan.cpr} (generated ${plan.generatedAt}${plan.restricted ? ", restricted" : ""})`);
  for (const pkg of plan.packages) console.log(`  ${describe(pkg)}`);
  console.log(`Sources: ${plan.sources.map((s) => `${s.name} ${s.ok ? "ok" : `DOWN (${s.error})`}`).join(", ")}`);
  if (down.length) console.log(`Not shown, try again later: ${down.join(", ")}`);
  const errorCodes = codes(error);
  if (errorCodes.length) console.log(`Errors beside the data: ${errorCodes.join(", ")}`);
  if (down.length && !errorCodes.includes("SOURCE_UNAVAILABLE")) {
    failures.push("a source is down but no SOURCE_UNAVAILABLE error came with the data");
  }

  // Read back from the cache: with possibleTypes the Sourced fragment's fields are there.
  const cached = apollo.readQuery({ query: ExamplePlanDocument, variables });
  const cachedIds = (cached?.plan.packages ?? []).flatMap((p) => p.appointments.map((a) => a.sourceId));
  const answeredIds = plan.packages.flatMap((p) => p.appointments.map((a) => a.sourceId));
  if (JSON.stringify(cachedIds) !== JSON.stringify(answeredIds)) {
    failures.push("the cached plan lost its items' sourceId despite possibleTypes");
  }

  // The same without possibleTypes: Apollo Client cannot tell that an Appointment is a
  // Sourced, so its cache skips `...Item` and the items come back without source/sourceId,
  // though the types say they are there.
  const bare = client(false);
  await bare.query({ query: ExamplePlanDocument, variables, errorPolicy: "all", fetchPolicy: "network-only" });
  const bareRead = bare.readQuery({ query: ExamplePlanDocument, variables });
  const withoutPossibleTypes = (bareRead?.plan.packages ?? []).flatMap((p) =>
    p.appointments.map((a) => a.sourceId ?? null),
  );

  // The clients' default error policy: a plan with a source down is thrown away.
  let defaultPolicyKeptPlan: boolean;
  try {
    const result = await client(true).query({ query: ExamplePlanDocument, variables, fetchPolicy: "network-only" });
    defaultPolicyKeptPlan = Boolean(result.data?.plan);
  } catch (thrown) {
    defaultPolicyKeptPlan = false;
    if (!CombinedGraphQLErrors.is(thrown)) throw thrown;
    console.log(`With the default errorPolicy the plan is lost: ${codes(thrown).join(", ")}`);
  }

  const summary = {
    cpr: plan.cpr,
    packages: plan.packages.map((p) => p.kind),
    triage: Object.fromEntries(plan.packages.filter((p) => p.triage).map((p) => [p.kind, p.triage?.level])),
    appointments: answeredIds,
    sources: Object.fromEntries(plan.sources.map((s) => [s.name, s.ok])),
    down,
    errors: errorCodes,
    cachedAppointments: cachedIds,
    cachedAppointmentsWithoutPossibleTypes: withoutPossibleTypes,
    defaultPolicyKeptPlan,
    failures,
  };
  console.log(JSON.stringify(summary));
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error("plan:", error);
    process.exit(1);
  },
);
