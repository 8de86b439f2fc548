// A gigcast client in Node.js, built only from proto/: what another team's backend would write.
//
// Usage: node examples/node/client.js HOST:PORT SKILL [COUNTRY]
// Prints one JSON object: the rate estimate and four weeks of demand for SKILL.
"use strict";

const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTO_ROOT = path.join(__dirname, "..", "..", "proto");
const definition = protoLoader.loadSync("gigcast/v1/forecast.proto", {
  includeDirs: [PROTO_ROOT],
  keepCase: true,
  enums: String,
  defaults: true,
});
const { ForecastService } = grpc.loadPackageDefinition(definition).gigcast.v1;

function call(client, method, request) {
  const deadline = new Date(Date.now() + 5000);
  return new Promise((resolve, reject) => {
    client[method](request, { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

async function main() {
  const [target, skill, country = ""] = process.argv.slice(2);
  if (!target || !skill) {
    console.error("usage: node examples/node/client.js HOST:PORT SKILL [COUNTRY]");
    process.exit(2);
  }
  const client = new ForecastService(target, grpc.credentials.createInsecure());
  try {
    const estimate = await call(client, "EstimateRate", {
      skill,
      country,
      experience_level: "EXPERIENCE_LEVEL_EXPERT",
    });
    const demand = await call(client, "ForecastDemand", { skill, horizon_weeks: 4 });
    console.log(JSON.stringify({ estimate, demand }));
  } catch (error) {
    console.error(`${grpc.status[error.code]}: ${error.details}`);
    process.exit(1);
  } finally {
    client.close();
  }
}

main();
