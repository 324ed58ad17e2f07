//! Golden request/response pairs per CRM connector.

mod clio;
mod hubspot;
mod owner;
mod pipedrive;
mod revoke;
mod salesforce;
mod strict;
mod zoho;
