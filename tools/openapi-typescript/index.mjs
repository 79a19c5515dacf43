// openapi-typescript resolves `typescript` from here, so it gets the 5.x it was built for.
export { astToString, default } from 'openapi-typescript'
