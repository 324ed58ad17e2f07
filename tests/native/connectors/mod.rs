//! Golden request/response pairs per CRM connector.

mod clio;
mod hubspot;
mod pipedrive;
mod revoke;
mod salesforce;
mod strict;
mod zoho;
